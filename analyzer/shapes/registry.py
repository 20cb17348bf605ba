"""The op registry: one record of facts per op per dialect, its shape rule included.

A dialect is the op vocabulary a graph speaks (``Graph.dialect``: "keras", "onnx",
"tf-graph"...); the same name means different things in two dialects (Keras ``Reshape`` takes
a target without the batch, ONNX ``Reshape`` a full shape), so every record is keyed by
``(dialect, op)``. A record holds everything the analysis knows about the op: its shape rule
and the facts the runtime models read (aliases its input, may run in place, scratch memory,
which inputs' values decide its output shape...). Adding an op is one declaration in the
dialect's rule module: ``@rule(...)`` for an op with a shape rule, ``declare(...)`` for an op
that only has facts.

A rule receives the node and the shapes of its inputs (batch included) and returns the shapes
of its outputs *and* the weight shapes the layer needs at that input, so a stored weight that
the stated input cannot use is found rather than hidden.

    @rule("Conv2D", "Convolution2D")
    def conv(call: RuleCall) -> RuleResult: ...

    @rule("Reshape", dialect="onnx", aliases_input=True, value_inputs=AFTER_FIRST)
    def reshape(call: RuleCall) -> RuleResult: ...

This module imports no rule module (rule modules import it); ``ops.py`` loads them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
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


def weight_leaf(name: str) -> str:
    """The part of a stored weight's name a WeightNeed names: ``block1/conv/kernel:0`` ->
    ``kernel`` (memory pairs needs with stored weights by it)."""
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


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

#: Which inputs' *values* (not shapes) decide an op's output shape.
NO_VALUES, AFTER_FIRST, ALL_INPUTS = "", "after-first", "all"
#: Working memory a kernel takes while it runs, from (step, input bytes, output bytes): one
#: byte count, or one per separate request the kernel makes (a runtime rounds each); the
#: step is a ``liveness.Step`` (not imported here: the registry sits below the runtime models).
Scratch = Callable[[Any, int, int], "int | Sequence[int]"]


@dataclass(frozen=True)
class OpFacts:
    """Everything memscan knows about one op of one dialect. Defaults: an op with no rule
    that allocates its own outputs and needs no working memory."""

    rule: Optional[Rule] = None
    #: Output 0 is input 0 reinterpreted (Reshape, Flatten, Dropout at inference): no buffer.
    aliases_input: bool = False
    #: The runtime's kernel may write its output over its first input when that input has no
    #: other reader left and shape and element size agree (onnxruntime ``MayInplace(0, 0)``).
    may_run_in_place: bool = False
    scratch: Optional[Scratch] = None
    #: ``AFTER_FIRST`` / ``ALL_INPUTS``: the output shape depends on those inputs' values, so a
    #: runtime knows it before running only when they are weights or shape arithmetic.
    value_inputs: str = NO_VALUES
    #: Its output shape is known only by running it (NonZero, Loop...).
    shape_only_at_run_time: bool = False
    #: A runtime follows shape *values* through it (Shape -> Gather -> Concat -> Reshape).
    passes_shape_values: bool = False
    #: It produces a shape value from its input's shape alone (Shape, Size).
    makes_shape_value: bool = False


#: (dialect, op) -> its record. Filled by the rule modules when ``ops`` loads them.
OPS: dict[tuple[str, str], OpFacts] = {}
_NO_FACTS = OpFacts()


def declare(*names: str, dialect: str = "keras", **facts: Any) -> None:
    """Record ``facts`` (OpFacts fields other than ``rule``) of every op in ``names``."""
    for name in names:
        key = (dialect, name)
        old = OPS.get(key, _NO_FACTS)
        clash = [k for k, v in facts.items() if getattr(old, k) != getattr(_NO_FACTS, k)
                 and getattr(old, k) != v]
        if clash:
            raise ValueError(f"two declarations of {', '.join(clash)} for {key!r}")
        OPS[key] = replace(old, **facts)


def rule(*names: str, dialect: str = "keras", **facts: Any) -> Callable[[Rule], Rule]:
    """Register ``fn`` as the shape rule of every op in ``names`` (and any other facts)."""

    def register(fn: Rule) -> Rule:
        for name in names:
            if OPS.get((dialect, name), _NO_FACTS).rule is not None:
                raise ValueError(f"two shape rules for {name!r} ({dialect})")
            declare(name, dialect=dialect, rule=fn, **facts)
        return fn

    return register


#: dialect -> the rule of every op of it that has none of its own (TF graphs: the engine
#: shaped every op, the rule only says so).
DIALECT_RULES: dict[str, Rule] = {}


def every_op(dialect: str) -> Callable[[Rule], Rule]:
    """Register ``fn`` as the rule of every op of ``dialect`` without a rule of its own."""

    def register(fn: Rule) -> Rule:
        if dialect in DIALECT_RULES:
            raise ValueError(f"two default rules for dialect {dialect!r}")
        DIALECT_RULES[dialect] = fn
        return fn

    return register


def facts_of(dialect: str, op: str) -> OpFacts:
    """The record of ``op`` in ``dialect`` (defaults when nothing is declared)."""
    found = OPS.get((dialect, op), _NO_FACTS)
    if found.rule is None and dialect in DIALECT_RULES:
        return replace(found, rule=DIALECT_RULES[dialect])
    return found


def rules(dialect: str) -> dict[str, Rule]:
    """Op name -> shape rule, for every op of ``dialect`` that has one."""
    return {op: f.rule for (d, op), f in OPS.items() if d == dialect and f.rule is not None}


def lookup(op: str, dialect: str = "keras") -> Optional[Rule]:
    """The shape rule of ``op`` (rule modules must be loaded: see ``ops.load``)."""
    return facts_of(dialect, op).rule
