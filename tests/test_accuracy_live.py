"""A small live subset of the held-out accuracy corpus (issue 13, docs/accuracy.md): models of
the held-out kinds (a Split/Concat/Resize detector neck with skips; exporter shape arithmetic
with symbolic dims; an LSTM + bidirectional GRU stack; a deep small Conv and an Einsum) built with onnx.helper, measured in onnxruntime exactly as
bench/accuracy.py does (ORT_DISABLE_ALL, memory pattern off, arena grown by the request),
each at two sizes: memscan must shape every tensor and land within 0.90-1.10 of the
measured peak. No torch or TensorFlow needed; a few seconds per model."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import ROOT

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from accuracy import HIGH, LOW, measure  # noqa: E402
from test_onnx_shape_values import tf2onnx_style  # noqa: E402

from analyzer.analysis import analyse  # noqa: E402
from analyzer.formats.onnx_reader import read  # noqa: E402
from analyzer.inputs import InputArg  # noqa: E402
from analyzer.shapes.infer import infer  # noqa: E402


def _conv(nodes, inits, rng, name, x, cin, cout, k=3, stride=1):
    w = numpy_helper.from_array((rng.standard_normal((cout, cin, k, k)) * 0.1)
                                .astype(np.float32), f"{name}.w")
    b = numpy_helper.from_array(np.zeros(cout, np.float32), f"{name}.b")
    inits += [w, b]
    nodes.append(helper.make_node("Conv", [x, w.name, b.name], [f"{name}.c"], name=name,
                                  pads=[k // 2] * 4, strides=[stride, stride]))
    nodes.append(helper.make_node("Relu", [f"{name}.c"], [f"{name}.r"], name=f"{name}.relu"))
    return f"{name}.r"


def detector_neck(path, w=8):
    """Stem, a CSP block (Split in two, bottleneck on one half, Concat), a stride-2 stage,
    nearest Resize ×2 by a scales constant, Concat with the skip, a head: the op mix of the
    held-out ts-detector/dy-detector at a few KiB of weights. Symbolic H and W."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    s = _conv(nodes, inits, rng, "stem", "x", 3, 2 * w, stride=2)
    inits.append(numpy_helper.from_array(np.array([w, w], np.int64), "split"))
    nodes.append(helper.make_node("Split", [s, "split"], ["a", "b"], name="split", axis=1))
    m = _conv(nodes, inits, rng, "m1", "b", w, w)
    m = _conv(nodes, inits, rng, "m2", m, w, w)
    nodes.append(helper.make_node("Add", [m, "b"], ["res"], name="res"))
    nodes.append(helper.make_node("Concat", ["a", "b", "res"], ["csp"], name="csp", axis=1))
    p3 = _conv(nodes, inits, rng, "cv", "csp", 3 * w, 2 * w, k=1)
    p4 = _conv(nodes, inits, rng, "down", p3, 2 * w, 4 * w, stride=2)
    inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"))
    nodes.append(helper.make_node("Resize", [p4, "", "scales"], ["up"], name="up",
                                  mode="nearest"))
    nodes.append(helper.make_node("Concat", ["up", p3], ["cat"], name="cat", axis=1))
    h = _conv(nodes, inits, rng, "head", "cat", 6 * w, 2 * w)
    nodes.append(helper.make_node("Sigmoid", [h], ["y"], name="out"))
    g = helper.make_graph(nodes, "detector_neck", [x], [y], inits)
    onnx.save(helper.make_model(g, producer_name="memscan-tests",
                                opset_imports=[helper.make_opsetid("", 17)]), str(path))


def symbolic_encoder(path, d=32, blocks=3):
    """x[N,T,d] plus a positional table sliced to T by Shape→Gather→Unsqueeze→Slice (as
    torch exports ``pos[:, :x.shape[1]]``), then blocks of MatMul→Relu→MatMul→Add and a
    Softmax over the sequence axis (not the innermost one). onnxruntime plans reuse on the
    shapes it knows at load time, where the sliced T is no dim at all: nothing is reused,
    each freed buffer goes back to the arena (a replay keyed on the stated shapes keeps
    them); the final Softmax, the peak, transposes through two temporaries."""
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "T", d])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [numpy_helper.from_array(rng.random((1, 4096, d), dtype=np.float32) * 0.1, "pos"),
             numpy_helper.from_array(np.array([0], np.int64), "zero"),
             numpy_helper.from_array(np.array(1, np.int64), "one"),
             numpy_helper.from_array(np.array([1], np.int64), "ax1")]
    nodes = [helper.make_node("Shape", ["x"], ["xs"]),
             helper.make_node("Gather", ["xs", "one"], ["t"], axis=0),
             helper.make_node("Unsqueeze", ["t", "zero"], ["t1"]),
             helper.make_node("Slice", ["pos", "zero", "t1", "ax1"], ["p"]),
             helper.make_node("Add", ["x", "p"], ["h0"])]
    h = "h0"
    for i in range(blocks):
        for k, shape in (("a", (d, 4 * d)), ("b", (4 * d, d))):
            inits.append(numpy_helper.from_array(rng.random(shape, dtype=np.float32) * 0.1,
                                                 f"w{i}{k}"))
        nodes += [helper.make_node("MatMul", [h, f"w{i}a"], [f"u{i}"]),
                  helper.make_node("Relu", [f"u{i}"], [f"r{i}"]),
                  helper.make_node("MatMul", [f"r{i}", f"w{i}b"], [f"v{i}"]),
                  helper.make_node("Add", [h, f"v{i}"], [f"h{i + 1}"])]
        h = f"h{i + 1}"
    inits.append(numpy_helper.from_array(rng.random((d, 4 * d), dtype=np.float32), "wout"))
    nodes += [helper.make_node("MatMul", [h, "wout"], ["z"]),
              helper.make_node("Softmax", ["z"], ["y"], axis=1)]
    g = helper.make_graph(nodes, "symbolic_encoder", [x], [y], inits)
    onnx.save(helper.make_model(g, producer_name="memscan-tests",
                                opset_imports=[helper.make_opsetid("", 17)]), str(path))


def rnn_stack(path, inp=16, hid=32, hid2=24):
    """x[T,N,16] (symbolic T and N, time-major as exporters write it) through a forward LSTM
    with a bias and only Y as output (onnxruntime then allocates local Y_h/Y_c buffers too),
    then a bidirectional GRU (linear_before_reset, as torch exports it): the peak is the
    kernels' own working memory (gate pre-activations for the whole sequence, reversed
    copies for the backward direction), taken from the arena while each node runs
    (lstm_base.cc / uni_directional_lstm.cc / deep_cpu_gru.cc ``AllocateBuffers``). A replay
    without it is 0.3-0.4 of the measured peak."""
    rng = np.random.default_rng(0)

    def weights(name, gates, cin, h, d):
        return [numpy_helper.from_array(rng.random((d, gates * h, cin), dtype=np.float32) * 0.1,
                                        f"{name}.W"),
                numpy_helper.from_array(rng.random((d, gates * h, h), dtype=np.float32) * 0.1,
                                        f"{name}.R"),
                numpy_helper.from_array(np.zeros((d, 2 * gates * h), np.float32), f"{name}.B")]

    inits = weights("lstm", 4, inp, hid, 1) + weights("gru", 3, hid, hid2, 2)
    inits.append(numpy_helper.from_array(np.array([1], np.int64), "ax1"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", "N", inp])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("LSTM", ["x", "lstm.W", "lstm.R", "lstm.B"], ["l"],
                              hidden_size=hid),
             helper.make_node("Squeeze", ["l", "ax1"], ["ls"]),
             helper.make_node("GRU", ["ls", "gru.W", "gru.R", "gru.B"], ["g", "gh"],
                              hidden_size=hid2, direction="bidirectional",
                              linear_before_reset=1),
             helper.make_node("Relu", ["g"], ["y"])]
    g = helper.make_graph(nodes, "rnn_stack", [x], [y], inits)
    onnx.save(helper.make_model(g, producer_name="memscan-tests",
                                opset_imports=[helper.make_opsetid("", 17)]), str(path))


def deep_conv_einsum(path, cin=64, filters=96, d=32):
    """A 3x3 Conv with more filters than output positions at the small size (96 > 8x8: MLAS
    expands the whole input, OutputSize x K floats; at 24x24 it runs in segments through
    one 64 KiB buffer), then a Dense-style Einsum "nchw,cd->nhwd" over the channels (at
    batch 1 both operands are copied into MatMul order, at batch 2 only the weight is):
    the peak is kernel working memory, from convolve.cpp ``MlasConvPrepare`` and
    einsum_typed_compute_processor.cc. Symbolic N, H, W."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal((filters, cin, 3, 3)) * 0.1)
                                     .astype(np.float32), "cw"),
             numpy_helper.from_array((rng.standard_normal((filters, d)) * 0.1)
                                     .astype(np.float32), "ew")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", cin, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Conv", ["x", "cw"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Einsum", ["r", "ew"], ["e"], equation="nchw,cd->nhwd"),
             helper.make_node("Sigmoid", ["e"], ["y"])]
    g = helper.make_graph(nodes, "deep_conv_einsum", [x], [y], inits)
    onnx.save(helper.make_model(g, producer_name="memscan-tests",
                                opset_imports=[helper.make_opsetid("", 17)]), str(path))


MODELS = {
    "detector-neck": (detector_neck, [(1, 3, 64, 64), (1, 3, 96, 128)]),
    "shape-arithmetic": (tf2onnx_style, [(1, 64, 16), (2, 200, 16)]),
    "symbolic-encoder": (symbolic_encoder, [(1, 128, 32), (2, 300, 32)]),
    "rnn-stack": (rnn_stack, [(40, 1, 16), (120, 2, 16)]),
    "deep-conv-einsum": (deep_conv_einsum, [(1, 64, 8, 8), (2, 64, 24, 24)]),
}


@pytest.mark.parametrize("name,size", [(n, s) for n, (_, sizes) in MODELS.items()
                                       for s in sizes], ids=lambda v: str(v))
def test_peak_within_target_of_onnxruntime(tmp_path, name, size):
    path = tmp_path / f"{name}.onnx"
    MODELS[name][0](path)
    report = analyse(str(path), inputs=[InputArg(None, size)])
    t = report.totals
    assert t.complete, f"{t.unshaped_tensors} tensors unshaped"
    measured = measure(path, "exact", size)
    assert "error" not in measured, measured
    ratio = (t.activation_peak_bytes - t.input_bytes) / measured["peak_bytes"]
    assert LOW <= ratio <= HIGH, (ratio, t.activation_peak_bytes - t.input_bytes,
                                  measured["peak_bytes"], measured["peak_node"])


@pytest.mark.parametrize("trans_b", [0, 1])
def test_qgemm_output_shaped_like_onnxruntime(tmp_path, trans_b):
    """QOperator exports end in com.microsoft QGemm (held-out qop-ts-mobilenetv2): its output
    must be shaped (the [M, N] onnxruntime gives it), or the report is only a lower bound."""
    import onnxruntime as ort

    b = np.ones((10, 16) if trans_b else (16, 10), np.int8)
    inits = [numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(np.array(0.1, np.float32), "s"),
             numpy_helper.from_array(np.array(0, np.uint8), "zu"),
             numpy_helper.from_array(np.array(0, np.int8), "zi")]
    node = helper.make_node("QGemm", ["x", "s", "zu", "b", "s", "zi", "", "s", "zu"], ["y"],
                            domain="com.microsoft", transB=trans_b)
    g = helper.make_graph([node], "qgemm",
                          [helper.make_tensor_value_info("x", TensorProto.UINT8, ["N", 16])],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    path = tmp_path / "qgemm.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                                  helper.make_opsetid("com.microsoft", 1)]),
              str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = sess.run(None, {"x": np.zeros((3, 16), np.uint8)})[0].shape
    graph = read(str(path))
    shapes = infer(graph, {"x": (3, 16)}).tensors
    assert shapes["y"] == expected == (3, 10)
    assert analyse(str(path), inputs=[InputArg(None, (3, 16))]).totals.complete
