"""MAC counts of TFLite builtin ops (dialect "tflite"), by the convention in analyzer/macs.py.

Tensor layouts as TFLite's kernels read them: CONV_2D filter (Cout, kh, kw, Cin/groups),
DEPTHWISE_CONV_2D filter (1, kh, kw, Cout), TRANSPOSE_CONV inputs (output_shape, filter
(Cout, kh, kw, Cin), input), FULLY_CONNECTED weights (units, in), CONV_3D filter
(kd, kh, kw, Cin, Cout). An absent optional input is the empty tensor id "".
"""
from __future__ import annotations

import math

from .macs import MacCall, elements, macs_of

T = "tflite"


@macs_of(T, "CONV_2D")
def conv_2d(call: MacCall) -> int:
    f = call.tensor(1)
    return elements(call.outputs[0]) * math.prod(f[1:])


@macs_of(T, "CONV_3D")
def conv_3d(call: MacCall) -> int:
    f = call.tensor(1)
    return elements(call.outputs[0]) * math.prod(f[:-1])


@macs_of(T, "DEPTHWISE_CONV_2D")
def depthwise_conv_2d(call: MacCall) -> int:
    f = call.tensor(1)
    return elements(call.outputs[0]) * f[1] * f[2]


@macs_of(T, "TRANSPOSE_CONV")
def transpose_conv(call: MacCall) -> int:
    f = call.tensor(1)
    return math.prod(call.tensor(2)) * math.prod(f[:3])


@macs_of(T, "FULLY_CONNECTED")
def fully_connected(call: MacCall) -> int:
    return elements(call.outputs[0]) * call.tensor(1)[-1]


@macs_of(T, "BATCH_MATMUL")
def batch_matmul(call: MacCall) -> int:
    x = call.tensor(0)
    k = x[-2] if call.cfg.get("adj_x") else x[-1]
    return elements(call.outputs[0]) * k


def _sequence_macs(call: MacCall, weight_inputs: range) -> int:
    """Batch × steps × every present gate weight's elements (input and recurrent)."""
    x = call.tensor(0)
    steps, batch = (x[0], x[1]) if call.cfg.get("time_major") else (x[1], x[0])
    present = [call.tensor(i) for i in weight_inputs
               if i < len(call.node.inputs) and call.node.inputs[i]]
    return batch * steps * sum(math.prod(w) for w in present)


@macs_of(T, "UNIDIRECTIONAL_SEQUENCE_LSTM")
def sequence_lstm(call: MacCall) -> int:
    return _sequence_macs(call, range(1, 9))  # 4 input-to-gate, 4 recurrent-to-gate


@macs_of(T, "UNIDIRECTIONAL_SEQUENCE_RNN")
def sequence_rnn(call: MacCall) -> int:
    return _sequence_macs(call, range(1, 3))
