"""The op records of every dialect, loaded: ask here, not the registry directly.

The rule modules (``*_rules*.py`` in this package) register their records on import; they
are found by name, so adding one needs no list, and this module is the only one that imports
them (the registry imports none: no cycle).
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Optional

from ..ir import Graph
from .registry import OpFacts, Rule, facts_of, rules

_LOADED = False


def rule_module_names() -> list[str]:
    """The rule modules of this package, by file name (``keras_rules``, ``onnx_rules``...)."""
    here = str(Path(__file__).parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if "_rules" in m.name)


def load() -> None:
    """Import every rule module once (each registers its ops)."""
    global _LOADED
    if not _LOADED:
        for name in rule_module_names():
            importlib.import_module(f"{__package__}.{name}")
        _LOADED = True


def facts(dialect: str, op: str) -> OpFacts:
    """Everything known about ``op`` in ``dialect``: its rule and its runtime facts."""
    load()
    return facts_of(dialect, op)


def lookup(op: str, dialect: str = "keras") -> Optional[Rule]:
    """The shape rule of ``op`` in ``dialect``, or None."""
    return facts(dialect, op).rule


def rules_of(dialect: str) -> dict[str, Rule]:
    """Op name -> shape rule for ``dialect`` (ops with a rule of their own)."""
    load()
    return rules(dialect)


def unruled_ops(graph: Graph) -> set[str]:
    """Ops of ``graph`` (nested models included) that no rule of its dialect covers."""
    out: set[str] = set()
    stack = [graph]
    while stack:
        g = stack.pop()
        for node in g.nodes:
            if node.subgraph is not None:
                stack.append(node.subgraph)
            elif node.op != "InputLayer" and lookup(node.op, g.dialect) is None:
                out.add(node.op)
    return out
