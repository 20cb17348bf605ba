"""The shape-rule registry: one small function per layer class (or op type).

A rule receives the node and the shapes of its inputs (batch included) and returns the shapes
of its outputs *and* the weight shapes the layer needs at that input, so a stored weight that
the stated input cannot use is found rather than hidden.

    @rule("Conv2D", "Convolution2D")
    def conv(call: RuleCall) -> RuleResult: ...
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

from ..ir import Node, Shape


class ShapeError(Exception):
    """The layer cannot run at these input shapes (the message says why)."""


@dataclass(frozen=True)
class WeightNeed:
    """A weight the layer needs at this input: a name suffix to match stored ones, a shape."""

    name: str
    shape: tuple[int, ...]
    trainable: bool = True


@dataclass(frozen=True)
class RuleResult:
    outputs: list[Optional[Shape]]
    weights: list[WeightNeed] = field(default_factory=list)
    #: True when the rule could not work out the weights (params fall back to stored ones).
    weights_unknown: bool = False


@dataclass(frozen=True)
class RuleCall:
    node: Node
    inputs: Sequence[Shape]

    @property
    def cfg(self) -> Mapping[str, Any]:
        return self.node.config

    @property
    def x(self) -> Shape:
        """The first (usually only) input."""
        if not self.inputs:
            raise ShapeError(f"{self.node.op} has no input")
        return self.inputs[0]


Rule = Callable[[RuleCall], RuleResult]
RULES: dict[str, Rule] = {}


def rule(*names: str) -> Callable[[Rule], Rule]:
    """Register ``fn`` as the shape rule of every layer class / op type in ``names``."""

    def register(fn: Rule) -> Rule:
        for name in names:
            if name in RULES:
                raise ValueError(f"two shape rules for {name!r}")
            RULES[name] = fn
        return fn

    return register


def lookup(op: str) -> Optional[Rule]:
    _load_rule_modules()
    return RULES.get(op)


_LOADED = False


def _load_rule_modules() -> None:
    global _LOADED
    if not _LOADED:
        from . import keras_rules  # noqa: F401  (registers on import)
        from . import onnx_rules  # noqa: F401  (registers "onnx:" rules on import)
        from . import onnx_ml_rules  # noqa: F401
        from . import onnx_quant_rules  # noqa: F401
        from . import keras_rules_misc  # noqa: F401
        from . import keras_rules_seq  # noqa: F401
        _LOADED = True
