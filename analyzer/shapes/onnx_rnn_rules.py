"""Working memory onnxruntime's CPU LSTM and GRU kernels take from the arena while they run.

Both kernels allocate their gate pre-activations for the whole sequence and a handful of
state buffers from the kernel's temp-space allocator (the same arena as the activations),
each as a separate request, alive for the node only. The requests are listed here, one per
``Allocate`` call in onnxruntime's source and in its order, so the planner rounds and
places each one as the arena does (the gate buffer may take a whole free chunk and push the
next request into a new region). Shapes come from the node itself: X = [seq, batch, input]
(input 0), the
``hidden_size`` and ``direction`` attributes, and which optional inputs/outputs the node has.

Whether W and R are stored or computed changes nothing here: stored ones are pre-packed
when the session is created (``DeepCpuLstmOp::PrePack`` / ``DeepCpuGruOp::PrePack``, before
the first node, so outside the run's peak); computed ones are read in place through
``GemmWeights`` without a copy (deep_cpu_lstm.cc ``DeepCpuLstmOp::Compute``,
deep_cpu_gru.cc ``DeepCpuGruOp::ComputeImpl``). They are ordinary activations then.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from .registry import declare

DIALECT = "onnx"
FLOAT = 4
INT32 = 4


def _present(names: tuple[str, ...], k: int) -> bool:
    return k < len(names) and bool(names[k])


def _dims(st: Any) -> Optional[tuple[int, int, int, int, int]]:
    """(seq, batch, input, hidden, directions) of an LSTM/GRU step, or None if unknown."""
    x = st.input_shapes[0] if st.input_shapes else None
    cfg = st.config if isinstance(st.config, Mapping) else {}
    hidden = cfg.get("hidden_size")
    if x is None or len(x) != 3 or not isinstance(hidden, int) or int(cfg.get("layout", 0)):
        return None
    directions = 2 if cfg.get("direction") == "bidirectional" else 1
    return x[0], x[1], x[2], hidden, directions


def _directions(st: Any) -> list[str]:
    """The UniDirectional objects the kernel builds (all alive until Compute returns)."""
    cfg = st.config if isinstance(st.config, Mapping) else {}
    d = cfg.get("direction", "forward")
    return ["forward", "reverse"] if d == "bidirectional" else [d]


def lstm_requests(st: Any, ins: int, out: int) -> list[int]:
    """onnxruntime/core/providers/cpu/rnn/lstm_base.cc ``LSTMBase::ComputeImpl`` (local
    Y_h / Y_c buffers when the node has no such output) and uni_directional_lstm.cc
    ``UniDirectionalLstm::AllocateBuffers`` (hidden0, internal_memory_prev, batched
    hidden0 / internal_memory_prev / internal_memory_clipped, output_iofc = 4·hidden·batch·seq,
    four fused biases, the reversed input and output for the reverse direction) and
    ``ComputeImpl`` (sequence_lengths when the node has no sequence_lens input)."""
    dims = _dims(st)
    if dims is None:
        return []
    seq, batch, inp, hid, ndir = dims
    bh = batch * hid * FLOAT
    req = [] if _present(st.outputs, 1) else [ndir * bh]
    req += [] if _present(st.outputs, 2) else [ndir * bh]
    for direction in _directions(st):
        req += [hid * FLOAT, hid * FLOAT, bh, bh, bh, 4 * hid * batch * seq * FLOAT]
        if _present(st.inputs, 3):
            req += [hid * FLOAT] * 4
        if direction == "reverse":
            req += [seq * batch * inp * FLOAT, seq * batch * hid * FLOAT]
        if not _present(st.inputs, 4):
            req.append(batch * INT32)
    return req


def gru_requests(st: Any, ins: int, out: int) -> list[int]:
    """onnxruntime/core/providers/cpu/rnn/deep_cpu_gru.cc ``DeepCpuGruOp::ComputeImpl``
    (a local Y_h when the node has none; the forward object stays alive while the reverse
    one is built) and ``UniDirectionalGru::AllocateBuffers`` (cur_h, batched_hidden0, the
    batched biases, linear_output with linear_before_reset, outputZRH = 3·hidden·batch·seq,
    the reversed input and output) and ``ComputeImpl`` (sequence_lengths)."""
    dims = _dims(st)
    if dims is None:
        return []
    seq, batch, inp, hid, ndir = dims
    cfg = st.config if isinstance(st.config, Mapping) else {}
    lbr = bool(int(cfg.get("linear_before_reset", 0) or 0))
    bh = batch * hid * FLOAT
    req = [] if _present(st.outputs, 1) else [ndir * bh]
    for direction in _directions(st):
        req += [bh, bh]
        if _present(st.inputs, 3):
            req += [bh, bh] + ([bh, bh] if lbr else [bh])
        if lbr:
            req.append(bh)
        req.append(3 * hid * batch * seq * FLOAT)
        if direction == "reverse":
            req += [seq * batch * inp * FLOAT, seq * batch * hid * FLOAT]
        if not _present(st.inputs, 4):
            req.append(batch * INT32)
    return req


declare("LSTM", dialect=DIALECT, scratch=lstm_requests)
declare("GRU", dialect=DIALECT, scratch=gru_requests)
