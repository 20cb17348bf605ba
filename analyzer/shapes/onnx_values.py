"""Values of the small integer tensors exporters compute shapes with, folded back into the model.

tf2onnx and torch.onnx write a Reshape's target as arithmetic on shapes: Shape → Gather →
ReduceProd → Concat → Reshape, Shape → Slice → Concat → Expand, Range over a Gather of a
Shape... onnx's data propagation follows only part of that (no ReduceProd, Range, Where,
Expand, ConstantOfShape; nothing through a Reshape or Cast of a shape), and onnxruntime's
symbolic engine leaves much of the rest symbolic. Once the input shapes are stated all
those values are plain integers, so this module computes them from the shapes an engine
already found, writes each value a shape depends on as a constant in the engine's private
copy of the model, and lets the engine run again, until nothing new is found.

Only values of at most ``MAX_ELEMENTS`` elements are computed, every op from the ONNX
operator semantics (no op runs from the file: the model is data, never executed), and only
inputs whose *values* set an output's shape are replaced, so the copy describes the same
computation. An If whose condition's value is now known is replaced by the branch that runs
(``onnx_branches.fold_ifs``), and a Loop that runs exactly its (now known) trip count gets
its scan outputs' first dim (``onnx_branches.state_loop_scans``). memscan's Graph is never changed: this only gives the engines
constants.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import numpy as np

from ..ir import Shape
from ..registries import registrar
from .onnx_branches import fold_ifs, state_loop_scans

#: Values larger than this are never computed (shape arithmetic is a few dozen integers).
MAX_ELEMENTS = 4096
#: Engine reruns at most (each round follows at least one more link of a chain).
MAX_ROUNDS = 6

#: Per op, the input positions whose values set the output's shape (None: every input).
VALUE_INPUTS: dict[str, Optional[tuple[int, ...]]] = {
    "Reshape": (1,), "Expand": (1,), "Tile": (1,), "ConstantOfShape": None, "Range": None,
    "Slice": (1, 2, 3, 4), "Pad": (1, 2, 3), "Resize": (1, 2, 3), "Upsample": (1,),
    "Squeeze": (1,), "Unsqueeze": (1,), "Split": (1,), "TopK": (1,), "OneHot": (1,),
    "ReduceSum": (1,), "ReduceMean": (1,), "ReduceMax": (1,), "ReduceMin": (1,),
    "ReduceProd": (1,), "ReduceL2": (1,), "ReduceSumSquare": (1,), "CenterCropPad": (1,),
}

Value = np.ndarray
Rule = Callable[[Any, list[Optional[Value]], list[Optional[Shape]], int], Optional[list[Value]]]
RULES: dict[str, Rule] = {}


rule = registrar(RULES)


def _attr(node: Any, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            if a.type == 1:
                return a.f
            if a.type == 2:
                return a.i
            if a.type == 7:
                return list(a.ints)
            if a.type == 4:
                return a.t
            return default
    return default


def _ints(v: Optional[Value]) -> Optional[list[int]]:
    return None if v is None else [int(x) for x in v.ravel()]


# --------------------------------------------------------------------------- rules
# Each follows the ONNX operator definition (onnx/docs/Operators.md) for its opset range.

@rule("Shape")
def _shape(node, vals, shapes, opset):
    s = shapes[0]
    if s is None:
        return None
    start, end = _attr(node, "start", 0), _attr(node, "end", None)
    return [np.array(list(s)[start:end], dtype=np.int64)]


@rule("Size")
def _size(node, vals, shapes, opset):
    s = shapes[0]
    return None if s is None else [np.array(int(np.prod(s, dtype=np.int64)), dtype=np.int64)]


@rule("Identity")
def _identity(node, vals, shapes, opset):
    return [vals[0]] if vals[0] is not None else None


@rule("Cast")
def _cast(node, vals, shapes, opset):
    from onnx import helper

    if vals[0] is None:
        return None
    return [vals[0].astype(helper.tensor_dtype_to_np_dtype(_attr(node, "to")))]


@rule("Gather")
def _gather(node, vals, shapes, opset):
    if vals[0] is None or vals[1] is None:
        return None
    return [np.take(vals[0], vals[1].astype(np.int64), axis=_attr(node, "axis", 0))]


@rule("Concat")
def _concat(node, vals, shapes, opset):
    if any(v is None for v in vals):
        return None
    return [np.concatenate([np.atleast_1d(v) for v in vals], axis=_attr(node, "axis", 0))]


@rule("Unsqueeze")
def _unsqueeze(node, vals, shapes, opset):
    axes = _ints(vals[1]) if len(vals) > 1 else _attr(node, "axes")
    if vals[0] is None or axes is None:
        return None
    x = vals[0]
    rank = x.ndim + len(axes)
    for a in sorted(a % rank for a in axes):
        x = np.expand_dims(x, a)
    return [x]


@rule("Squeeze")
def _squeeze(node, vals, shapes, opset):
    axes = _ints(vals[1]) if len(vals) > 1 and vals[1] is not None else _attr(node, "axes")
    if vals[0] is None:
        return None
    x = vals[0]
    return [np.squeeze(x, axis=None if not axes else tuple(a % x.ndim for a in axes))]


@rule("Slice")
def _slice(node, vals, shapes, opset):
    x = vals[0]
    if x is None:
        return None
    if opset < 10:
        starts, ends = _attr(node, "starts"), _attr(node, "ends")
        axes, steps = _attr(node, "axes"), None
    else:
        if any(v is None for v in vals[1:3]) or any(
                len(vals) > k and node.input[k] and vals[k] is None for k in (3, 4)):
            return None
        starts, ends = _ints(vals[1]), _ints(vals[2])
        axes = _ints(vals[3]) if len(vals) > 3 and node.input[3] else None
        steps = _ints(vals[4]) if len(vals) > 4 and node.input[4] else None
    axes = axes or list(range(len(starts)))
    steps = steps or [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[a % x.ndim] = slice(s, e, st) if abs(e) < 2**62 else slice(s, None, st)
    return [x[tuple(index)]]


@rule("Transpose")
def _transpose(node, vals, shapes, opset):
    if vals[0] is None:
        return None
    return [np.transpose(vals[0], _attr(node, "perm", None))]


@rule("Reshape")
def _reshape(node, vals, shapes, opset):
    if vals[0] is None or vals[1] is None:
        return None
    target = _ints(vals[1])
    dims = [vals[0].shape[i] if d == 0 and not _attr(node, "allowzero", 0) else d
            for i, d in enumerate(target)]
    return [vals[0].reshape(dims)]


@rule("Expand")
def _expand(node, vals, shapes, opset):
    if vals[0] is None or vals[1] is None:
        return None
    shape = np.broadcast_shapes(vals[0].shape, tuple(_ints(vals[1])))
    return [np.broadcast_to(vals[0], shape).copy()]


@rule("ConstantOfShape")
def _constant_of_shape(node, vals, shapes, opset):
    from onnx import numpy_helper

    if vals[0] is None:
        return None
    t = _attr(node, "value")
    fill = numpy_helper.to_array(t).ravel() if t is not None else np.zeros(1, np.float32)
    return [np.full(tuple(_ints(vals[0])), fill[0], dtype=fill.dtype)]


@rule("Range")
def _range(node, vals, shapes, opset):
    if any(v is None for v in vals):
        return None
    start, limit, delta = (v.ravel()[0] for v in vals)
    return [np.arange(start, limit, delta).astype(vals[0].dtype)]


@rule("Where")
def _where(node, vals, shapes, opset):
    if any(v is None for v in vals):
        return None
    return [np.where(vals[0], vals[1], vals[2])]


def _int_div(a: Value, b: Value) -> Value:
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        return (np.trunc(a / b)).astype(np.result_type(a, b))  # ONNX Div truncates
    return a / b


_BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": _int_div,
    "Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal, "And": np.logical_and, "Or": np.logical_or,
    "Max": np.maximum, "Min": np.minimum, "Mod": np.fmod,
}
_UNARY: dict[str, Callable[[Value], Value]] = {
    "Neg": np.negative, "Abs": np.abs, "Not": np.logical_not, "Floor": np.floor,
    "Ceil": np.ceil, "Sqrt": np.sqrt, "Relu": lambda x: np.maximum(x, 0),
}


@rule(*_BINARY)
def _binary(node, vals, shapes, opset):
    if len(vals) < 2 or any(v is None for v in vals):
        return None
    fn = _BINARY[node.op_type]
    out = vals[0]
    for v in vals[1:]:
        out = fn(out, v)
    if node.op_type in ("Add", "Sub", "Mul", "Max", "Min", "Mod"):
        out = out.astype(np.result_type(*vals))
    return [out]


@rule(*_UNARY)
def _unary(node, vals, shapes, opset):
    return None if vals[0] is None else [_UNARY[node.op_type](vals[0]).astype(vals[0].dtype)]


_REDUCE = {"ReduceProd": np.prod, "ReduceSum": np.sum, "ReduceMax": np.max,
           "ReduceMin": np.min}


@rule(*_REDUCE)
def _reduce(node, vals, shapes, opset):
    if vals[0] is None:
        return None
    if len(vals) > 1 and node.input[1]:
        if vals[1] is None:
            return None
        axes = _ints(vals[1])
    else:
        axes = _attr(node, "axes")
    keep = bool(_attr(node, "keepdims", 1))
    if not axes and _attr(node, "noop_with_empty_axes", 0):
        return [vals[0]]
    axis = None if not axes else tuple(a % vals[0].ndim for a in axes)
    return [np.asarray(_REDUCE[node.op_type](vals[0], axis=axis, keepdims=keep),
                       dtype=vals[0].dtype)]


# --------------------------------------------------------------------------- propagation

def constant_values(graph: Any) -> dict[str, Value]:
    """Small integer/float tensors the copy stores with values (initializers, Constants)."""
    from onnx import numpy_helper

    out: dict[str, Value] = {}
    for t in graph.initializer:
        if _small(t.dims):
            try:
                out[t.name] = numpy_helper.to_array(t)
            except Exception:  # a payload the walker stripped or a type numpy lacks
                continue
    for n in graph.node:
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx") and n.output:
            v = _constant_node(n)
            if v is not None:
                out[n.output[0]] = v
    return out


def _constant_node(node: Any) -> Optional[Value]:
    from onnx import numpy_helper

    for a in node.attribute:
        try:
            if a.name == "value" and a.HasField("t") and _small(a.t.dims):
                return numpy_helper.to_array(a.t)
            if a.name == "value_int":
                return np.array(a.i, dtype=np.int64)
            if a.name == "value_ints":
                return np.array(list(a.ints), dtype=np.int64)
            if a.name == "value_float":
                return np.array(a.f, dtype=np.float32)
            if a.name == "value_floats":
                return np.array(list(a.floats), dtype=np.float32)
        except Exception:
            return None
    return None


def _small(dims) -> bool:
    n = 1
    for d in dims:
        n *= int(d)
    return n <= MAX_ELEMENTS


def propagate(graph: Any, shapes: Mapping[str, Shape], opset: int) -> dict[str, Value]:
    """Values of every small tensor computable from constants and the known shapes, walking
    the nodes in file order (ONNX requires it topological)."""
    values = constant_values(graph)
    for node in graph.node:
        fn = RULES.get(node.op_type)
        if fn is None or node.domain not in ("", "ai.onnx") or all(o in values
                                                                   for o in node.output):
            continue
        vals = [values.get(t) if t else None for t in node.input]
        ins = [shapes.get(t) if t else None for t in node.input]
        try:
            out = fn(node, vals, ins, opset)
        except Exception:  # values the op rejects (a malformed file): left unknown
            out = None
        for name, v in zip(node.output, out or ()):
            if name and v is not None and v.size <= MAX_ELEMENTS:
                values[name] = np.asarray(v)
    return values


def fold_values(onnx: Any, model: Any, values: Mapping[str, Value]) -> int:
    """Give every shape-setting input whose value is now known a constant of its own in
    ``model`` (in place); returns how many inputs were replaced."""
    from onnx import numpy_helper

    g = model.graph
    stored = {t.name for t in g.initializer}
    added: dict[str, str] = {}
    replaced = 0
    for node in g.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in VALUE_INPUTS:
            continue
        positions = VALUE_INPUTS[node.op_type]
        for k, name in enumerate(node.input):
            if not name or name in stored or (positions is not None and k not in positions):
                continue
            v = values.get(name)
            if v is None:
                continue
            const = added.get(name)
            if const is None:
                const = added[name] = f"{name}__memscan_value"
                g.initializer.append(numpy_helper.from_array(np.asarray(v), const))
            node.input[k] = const
            replaced += 1
    return replaced


def with_shape_values(onnx: Any, model: Any, run: Callable[[Any, Any], tuple[Any, str]],
                      collect: Callable[[Any], tuple[dict, dict]]) -> tuple[Any, Any, str]:
    """Run the engine ``run`` on ``model``; while shape values become computable from what
    it shaped, fold them into a copy and run it again. Returns (the copy, the engine's
    result on it, its note)."""
    inferred, note = run(onnx, model)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    work = model
    for _ in range(MAX_ROUNDS):
        if inferred is None:
            break
        shapes = collect(inferred)[0]
        values = propagate(inferred.graph, shapes, opset)
        candidate = onnx.ModelProto()
        candidate.CopyFrom(work)
        folded = fold_values(onnx, candidate, values)
        folded += fold_ifs(onnx, candidate, values)
        if not state_loop_scans(candidate, inferred, values) and not folded:
            break
        again, again_note = run(onnx, candidate)
        if again is None or len(collect(again)[0]) <= len(shapes):
            if again is not None:
                work, inferred, note = candidate, again, again_note
            break
        work, inferred, note = candidate, again, again_note
    return work, inferred, note
