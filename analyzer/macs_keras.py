"""MAC counts of Keras layers (dialect "keras"), by the convention in analyzer/macs.py.

Shapes include the batch; ``data_format`` channels_first puts channels at axis 1.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from .macs import (MacCall, Unknown, attention_macs, einsum_macs, elements, macs_of,
                   recurrent_macs, MACS)

K = "keras"
CONV = ("Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D")
TRANSPOSED = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Deconvolution2D",
              "Deconvolution3D", "Convolution2DTranspose", "Convolution3DTranspose")
DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D")
SEPARABLE = ("SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
             "SeparableConvolution2D")
#: gate matmuls per recurrent cell
GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3, "CuDNNLSTM": 4, "CuDNNGRU": 3, "LSTMV1": 4,
         "GRUV1": 3, "UnifiedLSTM": 4, "UnifiedGRU": 3}


def _channels(cfg: Mapping[str, Any], shape: tuple[int, ...]) -> int:
    return shape[1] if cfg.get("data_format") == "channels_first" else shape[-1]


def kernel_volume(cfg: Mapping[str, Any], rank: int) -> int:
    k = cfg.get("kernel_size")
    if isinstance(k, int) and not isinstance(k, bool):
        return k ** rank
    if isinstance(k, (list, tuple)) and all(isinstance(d, int) for d in k):
        return math.prod(k)
    raise Unknown(f"kernel_size {k!r}")


def _groups(cfg: Mapping[str, Any]) -> int:
    g = cfg.get("groups", 1)
    return g if isinstance(g, int) and g > 0 else 1


@macs_of(K, *CONV)
def conv(call: MacCall) -> int:
    x = call.input()
    kv = kernel_volume(call.cfg, len(x) - 2)
    return elements(call.outputs[0]) * kv * _channels(call.cfg, x) // _groups(call.cfg)


@macs_of(K, *TRANSPOSED)
def conv_transpose(call: MacCall) -> int:
    x = call.input()
    out = call.output()
    kv = kernel_volume(call.cfg, len(x) - 2)
    return math.prod(x) * kv * _channels(call.cfg, out) // _groups(call.cfg)


@macs_of(K, *DEPTHWISE)
def depthwise(call: MacCall) -> int:
    return elements(call.outputs[0]) * kernel_volume(call.cfg, len(call.input()) - 2)


@macs_of(K, *SEPARABLE)
def separable(call: MacCall) -> int:
    x, out = call.input(), call.output()
    mult = call.cfg.get("depth_multiplier", 1)
    mid = _channels(call.cfg, x) * mult  # channels between the depthwise and pointwise parts
    positions = math.prod(out) // _channels(call.cfg, out)  # batch × output spatial
    depthwise_part = positions * mid * kernel_volume(call.cfg, len(x) - 2)
    return depthwise_part + math.prod(out) * mid


@macs_of(K, "Dense")
def dense(call: MacCall) -> int:
    return elements(call.outputs[0]) * call.input()[-1]


@macs_of(K, "EinsumDense")
def einsum_dense(call: MacCall) -> int:
    eq = call.cfg.get("equation")
    if not isinstance(eq, str) or "->" not in eq:
        raise Unknown("equation")
    lhs, _, rhs = eq.partition("->")
    x_term = lhs.split(",")[0]
    x, out = call.input(), call.output()
    return einsum_macs(f"{x_term}->{rhs}", [x], out)


@macs_of(K, "MultiHeadAttention")
def multi_head_attention(call: MacCall) -> int:
    cfg = call.cfg
    q, v = call.input(0), call.input(1)
    k = call.input(2) if len(call.inputs) > 2 and call.inputs[2] is not None and \
        len(call.inputs[2]) == len(v) else v
    heads, kd = cfg["num_heads"], cfg["key_dim"]
    vd = cfg.get("value_dim") or kd
    out = call.output()
    b = q[0]
    tq, tk = math.prod(q[1:-1]), math.prod(v[1:-1])
    out_dim = math.prod(out[len(q) - 1:])
    projections = b * (tq * q[-1] * heads * kd + tk * k[-1] * heads * kd
                       + tk * v[-1] * heads * vd + tq * heads * vd * out_dim)
    return projections + attention_macs(b, heads, tq, tk, kd, vd)


@macs_of(K, "Attention", "AdditiveAttention")
def attention(call: MacCall) -> int:
    q, v = call.input(0), call.input(1)
    k = call.input(2) if len(call.inputs) > 2 else v
    return attention_macs(q[0], 1, math.prod(q[1:-1]), math.prod(v[1:-1]), k[-1], v[-1])


@macs_of(K, "Dot")
def dot(call: MacCall) -> int:
    a = call.input(0)
    axes = call.cfg.get("axes", -1)
    axis = axes[0] if isinstance(axes, (list, tuple)) else axes
    return elements(call.outputs[0]) * a[axis]


@macs_of(K, *GATES)
def recurrent(call: MacCall) -> int:
    x = call.input()
    if len(x) != 3:
        raise Unknown("recurrent input rank")
    units = call.cfg.get("units", call.cfg.get("output_dim"))
    steps, batch = (x[0], x[1]) if call.cfg.get("time_major") else (x[1], x[0])
    return recurrent_macs(batch, steps, GATES[call.node.op], units, x[2])


def _wrapped(call: MacCall, spec: Any) -> MacCall:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("class_name"), str):
        raise Unknown("wrapped layer")
    node = dataclasses.replace(call.node, op=spec["class_name"], config=spec.get("config", {}))
    return dataclasses.replace(call, node=node)


def _count(call: MacCall) -> int:
    fn = MACS.get((K, call.node.op))
    return 0 if fn is None else fn(call)


@macs_of(K, "Bidirectional")
def bidirectional(call: MacCall) -> int:
    fwd = _wrapped(call, call.cfg.get("layer"))
    bwd = _wrapped(call, call.cfg.get("backward_layer") or call.cfg.get("layer"))
    return _count(fwd) + _count(bwd)


@macs_of(K, "TimeDistributed")
def time_distributed(call: MacCall) -> int:
    x = call.input()
    inner = _wrapped(call, call.cfg.get("layer"))
    flat = dataclasses.replace(
        inner, inputs=[(x[0] * x[1], *x[2:])],
        outputs=[None if s is None else (s[0] * s[1], *s[2:]) for s in call.outputs])
    return _count(flat)
