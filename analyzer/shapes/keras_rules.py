"""Shape rules for Keras layer classes (Keras 2.0 through Keras 3 spellings).

Each rule mirrors the layer's ``compute_output_shape`` and ``build``: output shapes, and the
weights ``build`` would create at that input, in the order Keras stores them. Shapes include
the batch dim. Rule families (conv, pooling, padding...) are written once for 1D/2D/3D.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from ..ir import Shape
from .registry import RuleCall, RuleResult, ShapeError, WeightNeed, rule

Dim = Optional[int]


# --------------------------------------------------------------------------- helpers

def _ntuple(value: Any, n: int, what: str) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and n > 1:
            value = list(value) * n
        if len(value) != n or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ShapeError(f"{what} {value!r} is not {n} integers")
        return tuple(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    raise ShapeError(f"{what} {value!r} is not an integer")


def _channels_last(call: RuleCall) -> bool:
    fmt = call.cfg.get("data_format") or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise ShapeError(f"data_format {fmt!r} is not channels_last or channels_first")
    return fmt == "channels_last"


def _split(call: RuleCall, rank: int) -> tuple[Dim, list[Dim], Dim, bool]:
    """(batch, spatial dims, channels, channels_last) of a rank-``rank`` layer's input."""
    x = call.x
    if len(x) != rank + 2:
        raise ShapeError(f"{call.node.op} expects an input of rank {rank + 2}, got {len(x)} {x}")
    last = _channels_last(call)
    if last:
        return x[0], list(x[1:-1]), x[-1], True
    return x[0], list(x[2:]), x[1], False


def _join(batch: Dim, spatial: Sequence[Dim], channels: Dim, last: bool) -> Shape:
    return (batch, *spatial, channels) if last else (batch, channels, *spatial)


def known_dim(d: Dim, what: str) -> int:
    if d is None:
        raise ShapeError(f"{what} must be known to build the layer's weights")
    return d


def conv_length(length: Dim, kernel: int, padding: str, stride: int, dilation: int = 1) -> Dim:
    """Keras's conv_output_length."""
    if length is None:
        return None
    dilated = (kernel - 1) * dilation + 1
    if padding in ("same", "causal"):
        out = length
    elif padding == "valid":
        out = length - dilated + 1
    elif padding == "full":
        out = length + dilated - 1
    else:
        raise ShapeError(f"padding {padding!r} is not valid, same, causal or full")
    if out <= 0:
        raise ShapeError(f"input length {length} is too small for kernel {kernel} "
                         f"(dilation {dilation}, padding {padding!r})")
    return (out + stride - 1) // stride


def deconv_length(length: Dim, kernel: int, padding: str, output_padding: Optional[int],
                  stride: int, dilation: int = 1) -> Dim:
    """Keras's deconv_output_length."""
    if length is None:
        return None
    kernel = kernel + (kernel - 1) * (dilation - 1)
    if output_padding is None:
        if padding == "valid":
            return length * stride + max(kernel - stride, 0)
        if padding == "full":
            return length * stride - (stride + kernel - 2)
        if padding == "same":
            return length * stride
        raise ShapeError(f"padding {padding!r} is not valid, same or full")
    pad = {"same": kernel // 2, "valid": 0, "full": kernel - 1}.get(padding)
    if pad is None:
        raise ShapeError(f"padding {padding!r} is not valid, same or full")
    return (length - 1) * stride + kernel - 2 * pad + output_padding


def _same(call: RuleCall) -> RuleResult:
    return RuleResult([call.x])


def _bias(call: RuleCall, units: int) -> list[WeightNeed]:
    return [WeightNeed("bias", (units,))] if call.cfg.get("use_bias", True) else []


def _rank_of(op: str) -> int:
    for rank in (1, 2, 3):
        if f"{rank}D" in op:
            return rank
    raise ShapeError(f"cannot tell the rank of {op}")


# --------------------------------------------------------------------------- inputs, identity

@rule("Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "ThresholdedReLU", "Masking",
      "Rescaling")
@rule("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
      "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity",
      aliases_input=True)  # no-ops at inference: the output is the input's buffer
def identity_shape(call: RuleCall) -> RuleResult:
    return _same(call)


@rule("PReLU")
def prelu(call: RuleCall) -> RuleResult:
    x = call.x
    shape = list(x[1:])
    shared = call.cfg.get("shared_axes") or []
    if isinstance(shared, int):
        shared = [shared]
    for axis in shared:
        shape[axis - 1] = 1
    if any(d is None for d in shape):
        raise ShapeError("PReLU needs every non-batch dim known")
    return RuleResult([x], [WeightNeed("alpha", tuple(shape))])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- dense

@rule("Dense")
def dense(call: RuleCall) -> RuleResult:
    x = call.x
    if len(x) < 2:
        raise ShapeError(f"Dense needs an input of rank 2 or more, got {x}")
    units = call.cfg.get("units")
    if not isinstance(units, int) or units <= 0:
        raise ShapeError(f"Dense units {units!r} is not a positive integer")
    fan_in = known_dim(x[-1], "Dense's last input dim")
    return RuleResult([(*x[:-1], units)], [WeightNeed("kernel", (fan_in, units)), *_bias(call, units)])


@rule("Embedding")
def embedding(call: RuleCall) -> RuleResult:
    input_dim, output_dim = call.cfg.get("input_dim"), call.cfg.get("output_dim")
    if not isinstance(input_dim, int) or not isinstance(output_dim, int):
        raise ShapeError("Embedding needs integer input_dim and output_dim")
    x = call.x
    return RuleResult([(*x, output_dim)], [WeightNeed("embeddings", (input_dim, output_dim))])


# --------------------------------------------------------------------------- convolutions

def _conv_common(call: RuleCall) -> tuple[int, Dim, list[Dim], Dim, bool, tuple[int, ...],
                                          tuple[int, ...], tuple[int, ...], str]:
    rank = _rank_of(call.node.op)
    batch, spatial, channels, last = _split(call, rank)
    cfg = call.cfg
    kernel = _ntuple(cfg.get("kernel_size"), rank, "kernel_size")
    strides = _ntuple(cfg.get("strides", 1), rank, "strides")
    dilation = _ntuple(cfg.get("dilation_rate", 1), rank, "dilation_rate")
    padding = str(cfg.get("padding", "valid")).lower()
    return rank, batch, spatial, channels, last, kernel, strides, dilation, padding


@rule("Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D")
def conv(call: RuleCall) -> RuleResult:
    rank, batch, spatial, channels, last, kernel, strides, dilation, padding = _conv_common(call)
    filters = call.cfg.get("filters")
    groups = call.cfg.get("groups", 1) or 1
    if not isinstance(filters, int) or filters <= 0:
        raise ShapeError(f"filters {filters!r} is not a positive integer")
    cin = known_dim(channels, "the input channels")
    if cin % groups or filters % groups:
        raise ShapeError(f"channels {cin} and filters {filters} are not divisible by groups {groups}")
    out = [conv_length(n, k, padding, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilation)]
    weights = [WeightNeed("kernel", (*kernel, cin // groups, filters)), *_bias(call, filters)]
    return RuleResult([_join(batch, out, filters, last)], weights)


@rule("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Convolution2DTranspose",
      "Convolution3DTranspose", "Deconvolution2D", "Deconvolution3D")
def conv_transpose(call: RuleCall) -> RuleResult:
    rank, batch, spatial, channels, last, kernel, strides, dilation, padding = _conv_common(call)
    filters = call.cfg.get("filters")
    if not isinstance(filters, int) or filters <= 0:
        raise ShapeError(f"filters {filters!r} is not a positive integer")
    cin = known_dim(channels, "the input channels")
    raw_op = call.cfg.get("output_padding")
    out_pad: Sequence[Optional[int]] = (
        [None] * rank if raw_op is None else _ntuple(raw_op, rank, "output_padding"))
    out = [deconv_length(n, k, padding, p, s, d)
           for n, k, p, s, d in zip(spatial, kernel, out_pad, strides, dilation)]
    weights = [WeightNeed("kernel", (*kernel, filters, cin)), *_bias(call, filters)]
    return RuleResult([_join(batch, out, filters, last)], weights)


@rule("DepthwiseConv1D", "DepthwiseConv2D")
def depthwise_conv(call: RuleCall) -> RuleResult:
    rank, batch, spatial, channels, last, kernel, strides, dilation, padding = _conv_common(call)
    mult = call.cfg.get("depth_multiplier", 1)
    cin = known_dim(channels, "the input channels")
    out = [conv_length(n, k, padding, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilation)]
    weights = [WeightNeed("depthwise_kernel", (*kernel, cin, mult)), *_bias(call, cin * mult)]
    return RuleResult([_join(batch, out, cin * mult, last)], weights)


@rule("SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D")
def separable_conv(call: RuleCall) -> RuleResult:
    rank, batch, spatial, channels, last, kernel, strides, dilation, padding = _conv_common(call)
    mult = call.cfg.get("depth_multiplier", 1)
    filters = call.cfg.get("filters")
    if not isinstance(filters, int) or filters <= 0:
        raise ShapeError(f"filters {filters!r} is not a positive integer")
    cin = known_dim(channels, "the input channels")
    out = [conv_length(n, k, padding, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilation)]
    weights = [WeightNeed("depthwise_kernel", (*kernel, cin, mult)),
               WeightNeed("pointwise_kernel", (*(1,) * rank, cin * mult, filters)),
               *_bias(call, filters)]
    return RuleResult([_join(batch, out, filters, last)], weights)


# --------------------------------------------------------------------------- pooling

@rule("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
      "AveragePooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D",
      "AvgPool3D")
def pooling(call: RuleCall) -> RuleResult:
    rank = _rank_of(call.node.op)
    batch, spatial, channels, last = _split(call, rank)
    cfg = call.cfg
    pool = _ntuple(cfg.get("pool_size", 2), rank, "pool_size")
    strides = _ntuple(cfg.get("strides") or pool, rank, "strides")
    padding = str(cfg.get("padding", "valid")).lower()
    out = [conv_length(n, p, padding, s) for n, p, s in zip(spatial, pool, strides)]
    return RuleResult([_join(batch, out, channels, last)])


@rule("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
      "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAvgPool1D",
      "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D")
def global_pooling(call: RuleCall) -> RuleResult:
    rank = _rank_of(call.node.op)
    batch, spatial, channels, last = _split(call, rank)
    if call.cfg.get("keepdims", False):
        return RuleResult([_join(batch, [1] * rank, channels, last)])
    return RuleResult([(batch, channels)])


# --------------------------------------------------------------------------- padding, cropping, upsampling

def _pairs(value: Any, rank: int, what: str) -> list[tuple[int, int]]:
    if isinstance(value, int) and not isinstance(value, bool):
        return [(value, value)] * rank
    if isinstance(value, (list, tuple)):
        if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
            return [(value[0], value[1])]
        if len(value) == rank:
            out = []
            for v in value:
                if isinstance(v, int) and not isinstance(v, bool):
                    out.append((v, v))
                elif isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, int) for x in v):
                    out.append((v[0], v[1]))
                else:
                    raise ShapeError(f"{what} {value!r} is not valid")
            return out
    raise ShapeError(f"{what} {value!r} is not valid")


@rule("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
def zero_padding(call: RuleCall) -> RuleResult:
    rank = _rank_of(call.node.op)
    batch, spatial, channels, last = _split_padding(call, rank)
    pads = _pairs(call.cfg.get("padding", 1), rank, "padding")
    out = [None if n is None else n + a + b for n, (a, b) in zip(spatial, pads)]
    return RuleResult([_join(batch, out, channels, last)])


@rule("Cropping1D", "Cropping2D", "Cropping3D")
def cropping(call: RuleCall) -> RuleResult:
    rank = _rank_of(call.node.op)
    batch, spatial, channels, last = _split_padding(call, rank)
    crops = _pairs(call.cfg.get("cropping", 1), rank, "cropping")
    out = []
    for n, (a, b) in zip(spatial, crops):
        if n is not None and n - a - b < 0:
            raise ShapeError(f"cropping {a}+{b} is more than the dim {n}")
        out.append(None if n is None else n - a - b)
    return RuleResult([_join(batch, out, channels, last)])


@rule("UpSampling1D", "UpSampling2D", "UpSampling3D")
def upsampling(call: RuleCall) -> RuleResult:
    rank = _rank_of(call.node.op)
    batch, spatial, channels, last = _split_padding(call, rank)
    size = _ntuple(call.cfg.get("size", 2), rank, "size")
    out = [None if n is None else n * s for n, s in zip(spatial, size)]
    return RuleResult([_join(batch, out, channels, last)])


def _split_padding(call: RuleCall, rank: int) -> tuple[Dim, list[Dim], Dim, bool]:
    """Like _split, but the 1D layers take no data_format (always steps-then-features)."""
    if rank == 1:
        x = call.x
        if len(x) != 3:
            raise ShapeError(f"{call.node.op} expects an input of rank 3, got {x}")
        return x[0], [x[1]], x[2], True
    return _split(call, rank)


# --------------------------------------------------------------------------- normalization

def param_axes(call: RuleCall, default: Any = -1) -> list[int]:
    axis = call.cfg.get("axis", default)
    if axis is None:
        axis = default
    axes = [axis] if isinstance(axis, int) else list(axis)
    rank = len(call.x)
    out = []
    for a in axes:
        if not isinstance(a, int) or not -rank <= a < rank:
            raise ShapeError(f"axis {a!r} is out of range for rank {rank}")
        out.append(a % rank)
    return out


def _param_shape(call: RuleCall, axes: list[int]) -> tuple[int, ...]:
    return tuple(known_dim(call.x[a], f"dim {a}") for a in axes)


@rule("BatchNormalization", "SyncBatchNormalization")
def batch_norm(call: RuleCall) -> RuleResult:
    axes = param_axes(call)
    shape = (math.prod(_param_shape(call, axes)),) if len(axes) == 1 else _param_shape(call, axes)
    weights = gamma_beta(call, shape) + [WeightNeed("moving_mean", shape, trainable=False),
                                          WeightNeed("moving_variance", shape, trainable=False)]
    return RuleResult([call.x], weights)


def gamma_beta(call: RuleCall, shape: tuple[int, ...]) -> list[WeightNeed]:
    """The scale (gamma) and offset (beta) a normalization layer keeps when asked to."""
    weights = []
    if call.cfg.get("scale", True):
        weights.append(WeightNeed("gamma", shape))
    if call.cfg.get("center", True):
        weights.append(WeightNeed("beta", shape))
    return weights


@rule("LayerNormalization")
def layer_norm(call: RuleCall) -> RuleResult:
    axes = param_axes(call)
    shape = _param_shape(call, axes)
    return RuleResult([call.x], gamma_beta(call, shape))


@rule("Normalization")
def normalization(call: RuleCall) -> RuleResult:
    """Keras 3 stores mean/variance (and tf-keras a count) only when the layer adapts."""
    x = call.x
    axes = param_axes(call)
    if call.cfg.get("mean") is not None:
        return RuleResult([x], [])
    shape = tuple(known_dim(x[a], f"dim {a}") for a in axes)
    # Keras 3 and tf-keras store mean/variance over the kept axes; the count is a scalar.
    return RuleResult([x], [WeightNeed("mean", shape, trainable=False),
                            WeightNeed("variance", shape, trainable=False),
                            WeightNeed("count", (), trainable=False)])


# --------------------------------------------------------------------------- reshaping

@rule("Flatten", aliases_input=True)
def flatten(call: RuleCall) -> RuleResult:
    x = call.x
    rest = x[1:]
    size = None if any(d is None for d in rest) else math.prod(rest)  # type: ignore[arg-type]
    return RuleResult([(x[0], size)])


@rule("Reshape", aliases_input=True)
def reshape(call: RuleCall) -> RuleResult:
    x = call.x
    target = call.cfg.get("target_shape")
    if not isinstance(target, (list, tuple)) or not all(isinstance(d, int) for d in target):
        raise ShapeError(f"target_shape {target!r} is not a list of integers")
    total = None if any(d is None for d in x[1:]) else math.prod(x[1:])  # type: ignore[arg-type]
    unknown = [i for i, d in enumerate(target) if d == -1]
    if len(unknown) > 1:
        raise ShapeError("target_shape has more than one -1")
    known = math.prod(d for d in target if d != -1)
    out: list[Dim] = list(target)
    if unknown:
        if total is None:
            out[unknown[0]] = None
        elif known == 0 or total % known:
            raise ShapeError(f"cannot reshape {x[1:]} ({total} elements) to {tuple(target)}")
        else:
            out[unknown[0]] = total // known
    elif total is not None and total != known:
        raise ShapeError(f"cannot reshape {x[1:]} ({total} elements) to {tuple(target)}")
    return RuleResult([(x[0], *out)])


@rule("Permute")
def permute(call: RuleCall) -> RuleResult:
    x = call.x
    dims = call.cfg.get("dims")
    if not isinstance(dims, (list, tuple)) or sorted(dims) != list(range(1, len(x))):
        raise ShapeError(f"Permute dims {dims!r} do not permute the {len(x) - 1} non-batch dims")
    return RuleResult([(x[0], *(x[d] for d in dims))])


@rule("RepeatVector")
def repeat_vector(call: RuleCall) -> RuleResult:
    x = call.x
    if len(x) != 2:
        raise ShapeError(f"RepeatVector expects rank 2, got {x}")
    return RuleResult([(x[0], call.cfg.get("n"), x[1])])


# --------------------------------------------------------------------------- merging

def broadcast(shapes: Sequence[Shape], op: str) -> Shape:
    """Keras's elementwise merge shape: right-aligned broadcasting, None as unknown."""
    rank = max(len(s) for s in shapes)
    out: list[Dim] = []
    for i in range(1, rank + 1):
        dims = [s[-i] for s in shapes if len(s) >= i]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ShapeError(f"{op}: inputs {list(shapes)} do not broadcast")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(reversed(out))


@rule("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
def merge(call: RuleCall) -> RuleResult:
    if not call.inputs:
        raise ShapeError(f"{call.node.op} has no inputs")
    return RuleResult([broadcast(call.inputs, call.node.op)])


@rule("Concatenate")
def concatenate(call: RuleCall) -> RuleResult:
    shapes = call.inputs
    if not shapes:
        raise ShapeError("Concatenate has no inputs")
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        raise ShapeError(f"Concatenate inputs differ in rank: {list(shapes)}")
    axis = call.cfg.get("axis", -1)
    if not isinstance(axis, int) or not -rank <= axis < rank:
        raise ShapeError(f"Concatenate axis {axis!r} is out of range")
    axis %= rank
    out: list[Dim] = []
    for i in range(rank):
        dims = [s[i] for s in shapes]
        if i == axis:
            out.append(None if any(d is None for d in dims) else sum(dims))  # type: ignore[arg-type]
        else:
            known = {d for d in dims if d is not None}
            if len(known) > 1:
                raise ShapeError(f"Concatenate inputs differ off the axis: {list(shapes)}")
            out.append(known.pop() if known else None)
    return RuleResult([tuple(out)])


@rule("Dot")
def dot(call: RuleCall) -> RuleResult:
    if len(call.inputs) != 2:
        raise ShapeError("Dot takes two inputs")
    a, b = call.inputs
    axes = call.cfg.get("axes", -1)
    pair = _ntuple(axes, 2, "axes")
    ax = [p % len(s) for p, s in zip(pair, (a, b))]
    if a[ax[0]] is not None and b[ax[1]] is not None and a[ax[0]] != b[ax[1]]:
        raise ShapeError(f"Dot: dims {a[ax[0]]} and {b[ax[1]]} differ")
    out = [d for i, d in enumerate(a) if i != ax[0]] + [d for i, d in enumerate(b) if i not in (0, ax[1])]
    if len(out) == 1:
        out.append(1)
    return RuleResult([tuple(out)])
