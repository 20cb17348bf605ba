"""Shape rules for onnxruntime's quantized contrib ops (domain ``com.microsoft``) that neither
shape engine shapes: the quantized LSTM of old ``onnx.quantize`` models and the QLinear
elementwise ops of QOperator models. Outputs take their own dtype (the graph's value types).

- QLinearSoftmax, QLinearSigmoid, QLinearLeakyRelu, (Dynamic)QuantizeLinear,
  DequantizeLinear: the input's shape (DynamicQuantizeLinear's scale and zero point: ``[]``);
- QGemm: Gemm's [M, N];
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


@rule("QGemm", dialect=ONNX)
def qgemm(call: RuleCall) -> RuleResult:
    """QGemm (QOperator Gemm: A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp): Gemm's
    [M, N] from A [M, K] (or [K, M] with transA) and B [K, N] (or [N, K] with transB)."""
    a = call.inputs[0] if call.inputs else None
    names = call.node.inputs
    stored = {w.name: tuple(w.shape) for w in call.node.weights}
    b = stored.get(names[3]) if len(names) > 3 else None
    if b is None and len(call.inputs) > 3:
        b = call.inputs[3]
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        return RuleResult([None], weights_unknown=True)
    m = a[1] if call.cfg.get("transA") else a[0]
    n = b[0] if call.cfg.get("transB") else b[1]
    return RuleResult([(m, n)], weights_unknown=True)
