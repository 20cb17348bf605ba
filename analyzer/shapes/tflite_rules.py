"""Shape rules for TFLite builtin ops (registered as ``tflite:OP``), at a stated input.

Layouts are TFLite's: activations NHWC, CONV_2D filter (O, kh, kw, I), DEPTHWISE_CONV_2D
filter (1, kh, kw, O), FULLY_CONNECTED weights (units, in). Options come from the op's builtin
options table (the reader snake_cases its fields); values of small integer constants (new
shapes, paddings, axes, slice bounds) from ``config["const_inputs"]``. Padding enum: 0 SAME,
1 VALID. These rules are memscan's own, checked against TFLite's interpreter
(tests/test_tflite.py); an op they do not cover is listed as unshaped.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

from ..ir import TFLITE, Shape
from .registry import RuleCall, RuleResult, ShapeError, declare, rule

SAME, VALID = 0, 1


class NeedsValue(ShapeError):
    """An input's value decides the shape and is not a constant: computed inside the graph.
    The engine folds such values and calls the rule again with them; without them the rule
    leaves the output to the engine (``RuleResult([None])``)."""


def tfl(*ops: str, **facts):
    def register(fn):
        def ruled(call: RuleCall) -> RuleResult:
            try:
                return fn(call)
            except NeedsValue:
                return RuleResult([None] * len(call.node.outputs), weights_unknown=True)

        ruled.__name__ = ruled.__qualname__ = fn.__name__
        ruled.__doc__ = fn.__doc__
        return rule(*ops, dialect=TFLITE, **facts)(ruled)
    return register


# Runtime facts (tflite_plan reads them): outputs TFLite's planner lets take over an input's
# buffer (arena_planner.cc IdentifyInPlaceTensors, the kernels' inplace_operator flags; seen
# on TF 2.21's interpreter). ADD and MUL may share either input; the rest reinterpret input 0.
declare("ADD", "MUL", dialect=TFLITE, may_run_in_place=True)
declare("RESHAPE", "SQUEEZE", "EXPAND_DIMS", dialect=TFLITE, aliases_input=True)
# Shape arithmetic the engine folds (shapes/engines/tflite_engine.py VALUE_OPS).
declare("SHAPE", dialect=TFLITE, makes_shape_value=True)
declare("STRIDED_SLICE", "PACK", "CONCATENATION", "GATHER", "CAST", dialect=TFLITE,
        passes_shape_values=True)
declare("RESHAPE", "TRANSPOSE_CONV", "PAD", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
        "MEAN", "SUM", "STRIDED_SLICE", "SLICE", "TRANSPOSE", "EXPAND_DIMS", "TILE",
        "BROADCAST_TO", dialect=TFLITE, value_inputs="after-first")


def _known(shape: Optional[Shape], what: str = "input") -> tuple[int, ...]:
    if shape is None or any(d is None for d in shape):
        raise ShapeError(f"the {what} shape is unknown")
    return tuple(shape)  # type: ignore[arg-type]


def _in(call: RuleCall, i: int) -> tuple[int, ...]:
    if i >= len(call.inputs):
        raise ShapeError(f"{call.node.op} has no input {i}")
    return _known(call.inputs[i], f"input {i}")


def _const(call: RuleCall, i: int) -> tuple[int, ...]:
    values = call.cfg.get("const_inputs", {}).get(str(i))
    if values is None:
        raise NeedsValue(f"{call.node.op}'s input {i} is not a constant memscan can read")
    return tuple(int(v) for v in values)


def _axis(axis: int, rank: int) -> int:
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise ShapeError(f"axis {axis} is outside rank {rank}")
    return a


def _window(size: int, kernel: int, stride: int, dilation: int, padding: int) -> int:
    if stride <= 0 or dilation <= 0:
        raise ShapeError("strides and dilations must be positive")
    if padding == SAME:
        return (size + stride - 1) // stride
    effective = (kernel - 1) * dilation + 1
    out = (size - effective + stride) // stride
    if out <= 0:
        raise ShapeError(f"a {kernel}-wide window (dilation {dilation}) does not fit in {size}")
    return out


def _spatial(call: RuleCall, x: tuple[int, ...], kh: int, kw: int, channels: int) -> Shape:
    if len(x) != 4:
        raise ShapeError(f"{call.node.op} expects an NHWC input, got {x}")
    c = call.cfg
    pad = c.get("padding", SAME)
    h = _window(x[1], kh, c.get("stride_h", 1), c.get("dilation_h_factor", 1), pad)
    w = _window(x[2], kw, c.get("stride_w", 1), c.get("dilation_w_factor", 1), pad)
    return (x[0], h, w, channels)


def _out(*shapes: Shape) -> RuleResult:
    return RuleResult(list(shapes), weights_unknown=True)


@tfl("CONV_2D")
def conv_2d(call: RuleCall) -> RuleResult:
    f = _in(call, 1)
    return _out(_spatial(call, _in(call, 0), f[1], f[2], f[0]))


@tfl("DEPTHWISE_CONV_2D")
def depthwise_conv_2d(call: RuleCall) -> RuleResult:
    f = _in(call, 1)
    return _out(_spatial(call, _in(call, 0), f[1], f[2], f[3]))


@tfl("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D")
def pool_2d(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    return _out(_spatial(call, x, call.cfg.get("filter_height", 1),
                         call.cfg.get("filter_width", 1), x[-1]))


@tfl("TRANSPOSE_CONV")
def transpose_conv(call: RuleCall) -> RuleResult:
    return _out(_const(call, 0))


@tfl("FULLY_CONNECTED")
def fully_connected(call: RuleCall) -> RuleResult:
    x, w = _in(call, 0), _in(call, 1)
    units, depth = w[0], w[-1]
    if call.cfg.get("keep_num_dims"):
        return _out((*x[:-1], units))
    total = math.prod(x)
    if depth <= 0 or total % depth:
        raise ShapeError(f"input {x} does not split into rows of {depth}")
    return _out((total // depth, units))


def broadcast(shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        dims = {s[i - rank + len(s)] for s in shapes if i - rank + len(s) >= 0} - {1}
        if len(dims) > 1:
            raise ShapeError(f"shapes {list(shapes)} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


@tfl("ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "POW",
     "FLOOR_DIV", "FLOOR_MOD", "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER",
     "GREATER_EQUAL", "LOGICAL_AND", "LOGICAL_OR", "SELECT_V2", "ATAN2")
def elementwise_binary(call: RuleCall) -> RuleResult:
    return _out(broadcast([_in(call, i) for i in range(len(call.inputs))]))


@tfl("RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "PRELU", "LOGISTIC", "TANH",
     "HARD_SWISH", "SOFTMAX", "LOG_SOFTMAX", "QUANTIZE", "DEQUANTIZE", "EXP", "SQRT", "RSQRT",
     "ABS", "NEG", "CAST", "GELU", "ELU", "FLOOR", "CEIL", "ROUND", "L2_NORMALIZATION",
     "LOCAL_RESPONSE_NORMALIZATION", "SQUARE", "SIN", "COS", "LOG", "LOGICAL_NOT", "SIGN",
     "ZEROS_LIKE", "ONES_LIKE", "FAKE_QUANT", "DENSIFY")
def elementwise_unary(call: RuleCall) -> RuleResult:
    return _out(_in(call, 0))


@tfl("RESHAPE")
def reshape(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    try:
        target = list(_const(call, 1))
    except NeedsValue:
        target = list(call.cfg.get("new_shape", ()))
        if not target:
            raise
    total = math.prod(x)
    if target.count(-1) > 1:
        raise ShapeError(f"RESHAPE target {target} has more than one -1")
    if -1 in target:
        rest = math.prod(d for d in target if d != -1)
        if rest <= 0 or total % rest:
            raise ShapeError(f"cannot reshape {x} to {target}")
        target[target.index(-1)] = total // rest
    if math.prod(target) != total:
        raise ShapeError(f"cannot reshape {x} ({total} elements) to {target}")
    return _out(tuple(target))


@tfl("CONCATENATION")
def concatenation(call: RuleCall) -> RuleResult:
    shapes = [_in(call, i) for i in range(len(call.inputs))]
    axis = _axis(call.cfg.get("axis", 0), len(shapes[0]))
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return _out(tuple(out))


@tfl("PAD", "PADV2", "MIRROR_PAD")
def pad(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    p = _const(call, 1)
    if len(p) != 2 * len(x):
        raise ShapeError(f"paddings {p} do not match rank {len(x)}")
    return _out(tuple(d + p[2 * i] + p[2 * i + 1] for i, d in enumerate(x)))


@tfl("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
def resize(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    size = _const(call, 1)
    return _out((x[0], size[0], size[1], x[3]))


@tfl("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY", "REDUCE_ALL")
def reduce(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    axes = {_axis(a, len(x)) for a in _const(call, 1)}
    if call.cfg.get("keep_dims"):
        return _out(tuple(1 if i in axes else d for i, d in enumerate(x)))
    return _out(tuple(d for i, d in enumerate(x) if i not in axes))


@tfl("STRIDED_SLICE")
def strided_slice(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    begin, end, strides = _const(call, 1), _const(call, 2), _const(call, 3)
    c = call.cfg
    if c.get("ellipsis_mask") or c.get("new_axis_mask"):
        raise ShapeError("STRIDED_SLICE with ellipsis or new-axis masks has no rule yet")
    out = []
    for i, d in enumerate(x):
        if i >= len(begin):
            out.append(d)
            continue
        s = strides[i]
        if s == 0:
            raise ShapeError("STRIDED_SLICE stride 0")
        if c.get("shrink_axis_mask", 0) >> i & 1:
            continue
        b = None if c.get("begin_mask", 0) >> i & 1 else begin[i]
        e = None if c.get("end_mask", 0) >> i & 1 else end[i]
        if c.get("offset") and e is not None and b is not None:
            e = b + e
        out.append(len(range(d)[slice(b, e, s)]))
    return _out(tuple(out))


@tfl("SLICE")
def slice_(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    begin, size = _const(call, 1), _const(call, 2)
    return _out(tuple(d - b if s == -1 else s for d, b, s in zip(x, begin, size)))


@tfl("SPLIT")
def split(call: RuleCall) -> RuleResult:
    x = _in(call, 1)
    axis = _axis(_const(call, 0)[0], len(x))
    n = call.cfg.get("num_splits", len(call.node.outputs))
    if n <= 0 or x[axis] % n:
        raise ShapeError(f"dim {x[axis]} does not split into {n}")
    part = tuple(x[axis] // n if i == axis else d for i, d in enumerate(x))
    return _out(*[part] * len(call.node.outputs))


@tfl("SPLIT_V")
def split_v(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    sizes = list(_const(call, 1))
    axis = _axis(_const(call, 2)[0], len(x))
    if -1 in sizes:
        sizes[sizes.index(-1)] = x[axis] - sum(s for s in sizes if s != -1)
    return _out(*[tuple(s if i == axis else d for i, d in enumerate(x)) for s in sizes])


@tfl("GATHER")
def gather(call: RuleCall) -> RuleResult:
    x, idx = _in(call, 0), _in(call, 1)
    axis = _axis(call.cfg.get("axis", 0), len(x))
    batch = call.cfg.get("batch_dims", 0)
    return _out((*x[:axis], *idx[batch:], *x[axis + 1:]))


@tfl("TRANSPOSE")
def transpose(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    perm = _const(call, 1)
    if sorted(perm) != list(range(len(x))):
        raise ShapeError(f"perm {perm} is not a permutation of rank {len(x)}")
    return _out(tuple(x[p] for p in perm))


@tfl("SQUEEZE")
def squeeze(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    dims = {_axis(a, len(x)) for a in call.cfg.get("squeeze_dims", ())}
    if not dims:
        dims = {i for i, d in enumerate(x) if d == 1}
    return _out(tuple(d for i, d in enumerate(x) if i not in dims))


@tfl("EXPAND_DIMS")
def expand_dims(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    axis = _const(call, 1)[0]
    axis = axis + len(x) + 1 if axis < 0 else axis
    return _out((*x[:axis], 1, *x[axis:]))


@tfl("BATCH_MATMUL")
def batch_matmul(call: RuleCall) -> RuleResult:
    a, b = _in(call, 0), _in(call, 1)
    m = a[-1] if call.cfg.get("adj_x") else a[-2]
    n = b[-2] if call.cfg.get("adj_y") else b[-1]
    return _out((*broadcast([a[:-2], b[:-2]]), m, n))


@tfl("UNIDIRECTIONAL_SEQUENCE_LSTM")
def sequence_lstm(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    units = _in(call, 2)[0]  # input-to-forget weights (units, features)
    if len(call.node.inputs) > 16 and call.node.inputs[16]:
        units = _in(call, 16)[0]  # projection weights (output, units)
    return _out((*x[:-1], units))


@tfl("SHAPE")
def shape(call: RuleCall) -> RuleResult:
    return _out((len(_in(call, 0)),))


@tfl("PACK")
def pack(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    axis = call.cfg.get("axis", 0)
    axis = axis + len(x) + 1 if axis < 0 else axis
    return _out((*x[:axis], len(call.inputs), *x[axis:]))


@tfl("UNPACK")
def unpack(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    axis = _axis(call.cfg.get("axis", 0), len(x))
    part = x[:axis] + x[axis + 1:]
    return _out(*[part] * len(call.node.outputs))


@tfl("SPACE_TO_DEPTH", "DEPTH_TO_SPACE")
def space_depth(call: RuleCall) -> RuleResult:
    n, h, w, c = _in(call, 0)
    b = call.cfg.get("block_size", 1)
    if call.node.op == "SPACE_TO_DEPTH":
        return _out((n, h // b, w // b, c * b * b))
    return _out((n, h * b, w * b, c // (b * b)))


@tfl("ARG_MAX", "ARG_MIN")
def arg_reduce(call: RuleCall) -> RuleResult:
    x = _in(call, 0)
    axis = _axis(_const(call, 1)[0], len(x))
    return _out(x[:axis] + x[axis + 1:])


@tfl("TILE")
def tile(call: RuleCall) -> RuleResult:
    return _out(tuple(d * m for d, m in zip(_in(call, 0), _const(call, 1))))


@tfl("BROADCAST_TO")
def broadcast_to(call: RuleCall) -> RuleResult:
    return _out(broadcast([_in(call, 0), _const(call, 1)]))
