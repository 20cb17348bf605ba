"""The ONNX liveness replay against onnxruntime's own arena, on a small residual conv net.

The model is built with onnx.helper (static shapes), run by onnxruntime exactly as
bench/accuracy.py measures (optimizations off, memory pattern off, a registered arena that
grows by the size requested), and memscan's peak on the same graph must equal it.
"""
from __future__ import annotations

import sys

import pytest

from analyzer.ir import Graph, Node, TensorSpec, WeightSpec
from analyzer.liveness import liveness
from analyzer.shapes.infer import infer
from conftest import ROOT

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
sys.path.insert(0, str(ROOT / "bench"))
from accuracy import measure  # noqa: E402

N, C, H = 1, 8, 32
F = (N, 16, H, H)  # 64 KiB in float32


def _model(path, channels: int = C) -> None:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w0 = numpy_helper.from_array(np.zeros((16, channels, 3, 3), np.float32), "w0")
    w1 = numpy_helper.from_array(np.zeros((16, 16, 3, 3), np.float32), "w1")
    conv = dict(pads=[1, 1, 1, 1], kernel_shape=[3, 3])
    nodes = [helper.make_node("Conv", ["x", "w0"], ["c"], name="conv0", **conv),
             helper.make_node("Relu", ["c"], ["r"], name="relu0"),
             helper.make_node("Conv", ["r", "w1"], ["e"], name="conv1", **conv),
             helper.make_node("Relu", ["e"], ["er"], name="relu1"),
             helper.make_node("Conv", ["er", "w1"], ["e2"], name="conv2", **conv),
             helper.make_node("Add", ["e2", "r"], ["a"], name="add"),
             helper.make_node("Relu", ["a"], ["y"], name="relu2")]
    graph = helper.make_graph(nodes, "res", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [N, channels, H, H])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, list(F))], [w0, w1])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _graph() -> Graph:
    """The Graph the ONNX reader produces for that file (one Node per ONNX node)."""
    x = (N, C, H, H)
    shapes = {"x": x, "c": F, "r": F, "e": F, "er": F, "e2": F, "a": F, "y": F}
    w0, w1 = WeightSpec("w0", (16, C, 3, 3)), WeightSpec("w1", (16, 16, 3, 3))
    spec = [("conv0", "Conv", ["x", "w0"], "c", (w0,)), ("relu0", "Relu", ["c"], "r", ()),
            ("conv1", "Conv", ["r", "w1"], "e", (w1,)), ("relu1", "Relu", ["e"], "er", ()),
            ("conv2", "Conv", ["er", "w1"], "e2", ()), ("add", "Add", ["e2", "r"], "a", ()),
            ("relu2", "Relu", ["a"], "y", ())]
    nodes = tuple(Node(name=n, op=op, layer=n, inputs=tuple(i), outputs=(o,), weights=w)
                  for n, op, i, o, w in spec)
    return Graph(format="onnx", producer="onnx.helper", name="res",
                 inputs=(TensorSpec("x", x),), outputs=("y",), nodes=nodes,
                 given_shapes=dict(shapes), dialect="onnx",
                 known_dtypes={t: "float32" for t in shapes}, batch_first=False)


def test_peak_equals_onnxruntime(tmp_path) -> None:
    path = tmp_path / "res.onnx"
    _model(str(path))
    measured = measure(path, "measured")
    assert "error" not in measured, measured
    live = liveness(infer(_graph(), {"x": (N, C, H, H)}))
    # relu0 takes conv0's buffer (in place); conv1's output e is new, relu1 takes it; conv2's
    # output e2 is new while r is still held for the Add; a is new (e/er's buffer has the
    # same shape and is free by then: reused, no new bytes); relu2 writes the graph output.
    assert [s.row for s in live.steps] == ["conv0", "relu0", "conv1", "relu1", "conv2",
                                           "add", "relu2"]
    assert live.peak_bytes - live.input_bytes == measured["peak_bytes"]


def test_real_reader_peak_equals_onnxruntime(tmp_path) -> None:
    """memscan's public analysis of the file itself (ONNX reader, shape oracle, replay).

    The input has the feature maps' shape, so a planner that treated the reader's Input row
    as a buffer of its own would free the caller's tensor after conv0 and hand it to conv1's
    output: one input (64 KiB) too little. onnxruntime never reuses a graph input.
    """
    from analyzer.analysis import analyse
    from analyzer.inputs import InputArg

    path = tmp_path / "res16.onnx"
    _model(str(path), channels=16)
    measured = measure(path, "measured")
    assert "error" not in measured, measured
    totals = analyse(str(path), inputs=[InputArg(None, F)]).totals
    assert totals.input_bytes == 64 * 1024
    assert totals.activation_peak_bytes - totals.input_bytes == measured["peak_bytes"]


def test_keras_export_peak_equals_onnxruntime() -> None:
    """The committed Keras 3 (torch exporter) file: float32 Cast pairs, NHWC<->NCHW
    Transposes and Flatten's Shape arithmetic, as in bench/accuracy.py's models."""
    from analyzer.analysis import analyse
    from analyzer.inputs import InputArg
    from conftest import FIXTURES

    path = FIXTURES / "onnx" / "keras_export.onnx"
    measured = measure(path, "measured")
    assert "error" not in measured, measured
    totals = analyse(str(path), inputs=[InputArg(None, (1, 32, 32, 3))]).totals
    assert totals.peak_layer == measured["peak_node"] == "/Conv"
    assert totals.activation_peak_bytes - totals.input_bytes == measured["peak_bytes"]
