"""Real ONNX exports from other projects (fetched from their wheels on the package index),
analysed at a new input and compared with what onnxruntime really produces at that input.

- nudenet 3.4.2 ``320n.onnx``: a YOLOv8n exported by PyTorch 2.3 with dims batch/height/width.
- rapidocr-onnxruntime 1.4.4 ``ch_PP-OCRv4_det_infer.onnx``: a Paddle2ONNX export whose weights
  are all Constant nodes (no initializers at all).

Params must equal the elements of every initializer and every Constant whose tensor is not
of an index dtype (int32/int64/bool/string: index data, not params; README "What counts as
a param"), counted here straight from ``onnx.load`` (which does load the weights: it is the
independent count).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from artifacts import fetch
from conftest import cli_json

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from analyzer import formats  # noqa: E402
from analyzer.inputs import InputArg, resolve_inputs  # noqa: E402
from analyzer.shapes.infer import infer  # noqa: E402

INDEX = {onnx.TensorProto.INT32, onnx.TensorProto.INT64, onnx.TensorProto.BOOL,
         onnx.TensorProto.STRING}

ARTIFACTS = {
    "nudenet": ("nudenet", "3.4.2", "nudenet/320n.onnx",
                "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f"),
    "ppocr-det": ("rapidocr-onnxruntime", "1.4.4",
                  "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
                  "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"),
}
SHAPE = (1, 3, 640, 480)


def _weights_elements(path) -> tuple[int, int, int]:
    """(elements of initializers + weight-carrying Constants, #initializers, #constants)."""
    m = onnx.load(str(path))
    total = sum(math.prod(t.dims) for t in m.graph.initializer if t.data_type not in INDEX)
    consts = 0
    for n in m.graph.node:
        if n.op_type != "Constant":
            continue
        for a in n.attribute:
            if a.name == "value" and a.t.data_type not in INDEX:
                total += math.prod(a.t.dims)
                consts += 1
    return total, len(m.graph.initializer), consts


def _onnxruntime_shapes(path, shape) -> dict[str, tuple]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    outs = sess.run(None, {inp.name: x})
    return {o.name: tuple(v.shape) for o, v in zip(sess.get_outputs(), outs)}


@pytest.mark.parametrize("key", sorted(ARTIFACTS))
def test_real_export_matches_onnxruntime(key):
    path = fetch(*ARTIFACTS[key])
    expected = _onnxruntime_shapes(path, SHAPE)
    graph = formats.load(str(path))
    shapes = resolve_inputs(graph, [InputArg(None, SHAPE)], None)
    inference = infer(graph, shapes)
    got = {name: inference.tensors.get(name) for name in graph.outputs}
    assert got == expected
    if key == "nudenet":
        assert expected == {"output0": (1, 22, 6300)}

    report = cli_json(str(path), "--input", ",".join(map(str, SHAPE)))
    elements, n_init, n_const = _weights_elements(path)
    if key == "ppocr-det":
        assert n_init == 0 and n_const > 0  # Paddle: weights live in Constant nodes only
    assert report["model"]["format"] == "onnx"
    assert report["totals"]["params"] == report["totals"]["stored_params"] == elements
    assert report["inputs"][0]["shape"] == list(SHAPE)
    assert not any(f["code"] == "unshaped-tensors" for f in report["findings"])
    assert report["totals"]["layers_with_unknown_shapes"] == 0
    # Every node output shaped: rows' output shapes are all fully known.
    assert all(s is not None and None not in s for r in report["layers"]
               for s in r["output_shapes"])
