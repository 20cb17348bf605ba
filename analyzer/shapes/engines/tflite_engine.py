"""TFLite's shape engine: the ``tflite:`` rules run in execution order, plus the small integer
values that shapes are computed from inside the graph.

A converter keeps a dynamic batch (shape_signature -1) as ops that compute shapes at run time:
SHAPE → STRIDED_SLICE → PACK feeding a RESHAPE's new shape or a TRANSPOSE_CONV's output shape.
TFLite evaluates them when it runs; memscan folds them: every small integer tensor whose value
follows from shapes and constants is tracked (``VALUE_OPS``), and handed to the rules as a
constant input. At the stored input, a tensor the rules cannot shape (a custom op) keeps the
shape the file stores.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Mapping, Optional

from ...engine_inputs import TfliteModel
from ...ir import TFLITE, Graph, Node, ReaderFinding, Shape
from ...registries import registrar
from ..ops import lookup
from ..registry import RuleCall, ShapeError

Values = tuple[int, ...]
#: Largest integer tensor whose value is tracked.
MAX_VALUES = 64
#: What a rule or a value function may raise on a malformed file: the tensor stays unshaped.
_BROKEN = (ShapeError, ZeroDivisionError, TypeError, ValueError, KeyError, IndexError,
           AttributeError, OverflowError)


#: An op no rule shapes is "no-rule" (the rules are memscan's own, not TFLite's).
SHAPES_EVERY_OP = False


def shape(graph: Graph, input_shapes: Mapping[str, Shape]
          ) -> tuple[dict[str, Shape], list[ReaderFinding]]:
    """Every shape the rules infer at ``input_shapes``, in execution order, shape values
    folded; at the stored input a tensor no rule shapes keeps the file's shape."""
    model: TfliteModel = graph.engine_input
    at_stored = all(tuple(input_shapes.get(k, ())) == tuple(v)
                    for k, v in model.stored_inputs.items())
    shapes: dict[str, Optional[Shape]] = {"": ()}  # "": an absent optional input
    shapes.update(model.constants)
    shapes.update({k: tuple(v) for k, v in input_shapes.items()})
    values: dict[str, Values] = dict(model.values)
    for node in graph.nodes:
        if node.op == "InputLayer":
            continue
        outs = _node(node, shapes, values)
        for i, tid in enumerate(node.outputs):
            out = outs[i] if i < len(outs) else None
            if out is None and at_stored:
                out = model.stored.get(tid)
            shapes[tid] = out
    return {k: v for k, v in shapes.items() if v is not None}, []


def _node(node: Node, shapes: Mapping[str, Optional[Shape]],
          values: dict[str, Values]) -> list[Optional[Shape]]:
    ins = [shapes.get(t) for t in node.inputs]
    rule = lookup(node.op, TFLITE)
    if rule is None or any(s is None or None in s for s in ins):
        return []
    known = {str(i): values[t] for i, t in enumerate(node.inputs) if t in values}
    if known:
        cfg = dict(node.config)
        cfg["const_inputs"] = {**dict(node.config.get("const_inputs", {})), **known}
        node = dataclasses.replace(node, config=cfg)
    try:
        outs = list(rule(RuleCall(node, ins)).outputs)  # type: ignore[arg-type]
    except _BROKEN:
        return []
    fn = VALUE_OPS.get(node.op)
    if fn is not None and node.outputs and outs and outs[0] is not None:
        try:
            v = fn(node, ins, [values.get(t) for t in node.inputs])  # type: ignore[arg-type]
        except _BROKEN:
            v = None
        if v is not None and len(v) <= MAX_VALUES and \
                len(v) == math.prod(outs[0]):  # type: ignore[arg-type]
            values[node.outputs[0]] = tuple(int(x) for x in v)
    return outs


# ----------------------------------------------------------------- value propagation

ValueFn = Callable[[Node, list[Shape], list[Optional[Values]]], Optional[Values]]
VALUE_OPS: dict[str, ValueFn] = {}


value_op = registrar(VALUE_OPS)


@value_op("SHAPE")
def _shape(node: Node, ins: list[Shape], vals: list[Optional[Values]]) -> Values:
    return tuple(ins[0])  # type: ignore[arg-type]


@value_op("CAST", "RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def _same(node: Node, ins: list[Shape], vals: list[Optional[Values]]) -> Optional[Values]:
    return vals[0]


@value_op("STRIDED_SLICE")
def _strided_slice(node: Node, ins: list[Shape], vals: list[Optional[Values]]
                   ) -> Optional[Values]:
    x, begin, end, strides = vals[0], vals[1], vals[2], vals[3]
    if x is None or begin is None or end is None or strides is None or len(ins[0]) != 1:
        return None
    c = node.config
    b = None if c.get("begin_mask", 0) & 1 else begin[0]
    e = None if c.get("end_mask", 0) & 1 else end[0]
    if c.get("offset") and b is not None and e is not None:
        e = b + e
    return x[slice(b, e, strides[0])]


@value_op("PACK", "CONCATENATION")
def _pack(node: Node, ins: list[Shape], vals: list[Optional[Values]]) -> Optional[Values]:
    if any(v is None for v in vals) or any(len(s) > 1 for s in ins):
        return None
    return tuple(x for v in vals for x in v)  # type: ignore[union-attr]


@value_op("GATHER")
def _gather(node: Node, ins: list[Shape], vals: list[Optional[Values]]) -> Optional[Values]:
    x, idx = vals[0], vals[1]
    if x is None or idx is None or len(ins[0]) != 1:
        return None
    return tuple(x[i] for i in idx)


_ARITH: dict[str, Callable[[int, int], int]] = {
    "ADD": lambda a, b: a + b, "SUB": lambda a, b: a - b, "MUL": lambda a, b: a * b,
    "FLOOR_DIV": lambda a, b: a // b, "MAXIMUM": max, "MINIMUM": min,
}


@value_op(*_ARITH)
def _arith(node: Node, ins: list[Shape], vals: list[Optional[Values]]) -> Optional[Values]:
    a, b = vals[0], vals[1] if len(vals) > 1 else None
    if a is None or b is None:
        return None
    if len(a) == 1:
        a = a * len(b)
    if len(b) == 1:
        b = b * len(a)
    return tuple(_ARITH[node.op](x, y) for x, y in zip(a, b))


@value_op("REDUCE_PROD")
def _prod(node: Node, ins: list[Shape], vals: list[Optional[Values]]) -> Optional[Values]:
    return None if vals[0] is None or len(ins[0]) != 1 else (math.prod(vals[0]),)
