"""MAC counts of ONNX ops (dialect "onnx"), by the convention in analyzer/macs.py.

Weights are read by their shapes only: Conv's W is (M, C/group, k...), ConvTranspose's W is
(C, M/group, k...), the recurrent ops' W and R are (directions, gates·hidden, input|hidden).
"""
from __future__ import annotations

import math

from .macs import MacCall, Unknown, attention_macs, einsum_macs, elements, macs_of

O = "onnx"


@macs_of(O, "Conv", "ConvInteger")
def conv(call: MacCall) -> int:
    w = call.tensor(1)
    return elements(call.outputs[0]) * math.prod(w[1:])


@macs_of(O, "QLinearConv")
def qlinear_conv(call: MacCall) -> int:
    w = call.tensor(3)  # x, x_scale, x_zero_point, w, ...
    return elements(call.outputs[0]) * math.prod(w[1:])


@macs_of(O, "ConvTranspose")
def conv_transpose(call: MacCall) -> int:
    w = call.tensor(1)
    return math.prod(call.input(0)) * math.prod(w[1:])


@macs_of(O, "MatMul", "MatMulInteger", "QLinearMatMul")
def matmul(call: MacCall) -> int:
    return elements(call.outputs[0]) * call.tensor(0)[-1]


@macs_of(O, "Gemm")
def gemm(call: MacCall) -> int:
    a = call.tensor(0)
    k = a[0] if call.cfg.get("transA", 0) else a[-1]
    return elements(call.outputs[0]) * k


@macs_of(O, "Einsum")
def einsum(call: MacCall) -> int:
    eq = call.cfg.get("equation")
    if isinstance(eq, bytes):
        eq = eq.decode("utf-8", "replace")
    if not isinstance(eq, str) or "->" not in eq:
        raise Unknown("implicit einsum output")
    ops = [call.tensor(i) for i in range(len(call.node.inputs))]
    return einsum_macs(eq, ops, call.output())


@macs_of(O, "LSTM", "GRU", "RNN")
def recurrent(call: MacCall) -> int:
    x = call.tensor(0)
    w, r = call.tensor(1), call.tensor(2)
    seq, batch = (x[1], x[0]) if call.cfg.get("layout", 0) else (x[0], x[1])
    return seq * batch * (math.prod(w) + math.prod(r))


@macs_of(O, "Attention")
def attention(call: MacCall) -> int:
    q, k, v = call.tensor(0), call.tensor(1), call.tensor(2)
    if len(q) != 4:
        raise Unknown("3-D Attention inputs carry heads in attributes")
    return attention_macs(q[0], q[1], q[2], k[2], q[3], v[3])
