"""Shape rules for onnxruntime's quantized contrib ops (domain ``com.microsoft``) that neither
shape engine shapes: the quantized LSTM of old ``onnx.quantize`` models and the QLinear
elementwise ops of QOperator models. Outputs take their own dtype (the graph's value types).

- QLinearSoftmax, QLinearSigmoid, QLinearLeakyRelu, (Dynamic)QuantizeLinear,
  DequantizeLinear: the input's shape (DynamicQuantizeLinear's scale and zero point: ``[]``);
- DynamicQuantizeLSTM: like ONNX LSTM, ``Y [seq, directions, batch, hidden]``, ``Y_h`` and
  ``Y_c [directions, batch, hidden]`` (X is ``[seq, batch, input]``; ``hidden_size`` attr).
"""
from __future__ import annotations

from .registry import RuleCall, RuleResult, rule

ONNX = "onnx"


@rule("QLinearSoftmax", "QLinearSigmoid", "QLinearLeakyRelu", "QuantizeLinear",
      "DequantizeLinear", "DynamicQuantizeLinear", dialect=ONNX)
def quantized_unary(call: RuleCall) -> RuleResult:
    x = call.inputs[0] if call.inputs else None
    rest: list = [()] * (len(call.node.outputs) - 1)
    return RuleResult([None if x is None else tuple(x), *rest], weights_unknown=True)


@rule("DynamicQuantizeLSTM", dialect=ONNX)
def dynamic_quantize_lstm(call: RuleCall) -> RuleResult:
    x = call.inputs[0] if call.inputs else None
    hidden = call.cfg.get("hidden_size")
    n_out = len(call.node.outputs)
    if x is None or len(x) != 3 or not isinstance(hidden, int):
        return RuleResult([None] * n_out, weights_unknown=True)
    directions = 2 if call.cfg.get("direction") == "bidirectional" else 1
    seq, batch = x[0], x[1]
    state = (directions, batch, hidden)
    return RuleResult([(seq, directions, batch, hidden), state, state][:n_out],
                      weights_unknown=True)
