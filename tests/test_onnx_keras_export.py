"""A Keras 3 model exported to ONNX (``model.export(path, format="onnx", input_signature=...)``)
gives the same params as its ``.h5``, and the same feature-map sum once every extra tensor the
exporter adds is accounted for, tensor by tensor.

The pair is committed (``fixtures/onnx/keras_export.{h5,onnx}``, ~100 KB), built by
``fixtures/onnx/make_onnx_fixtures.py`` (Keras 3.15 with the torch backend: Keras's TF backend
needs tf2onnx); the row names below are those torch 2.13's exporter gives.
"""
from __future__ import annotations

import pytest

from conftest import FIXTURES, cli_json

pytest.importorskip("onnx")

H5 = FIXTURES / "onnx" / "keras_export.h5"
ONNX = FIXTURES / "onnx" / "keras_export.onnx"

#: Keras layer -> the ONNX tensor (row) holding that layer's output in the exported graph.
KERAS_OUTPUT_ROW = {
    "image": "input_0",
    "conv": "/Relu",          # Conv2D(activation="relu") is Conv → bias Add → Relu in ONNX
    "pool": "/Transpose_3",   # MaxPool runs in NCHW; the transpose back to NHWC is pool's output
    "flat": "/Reshape",
    "fc": "/Add_1",           # Dense is MatMul → bias Add
}
#: Every other row, and why its bytes are not in the Keras loop's sum.
EXTRA_ROWS = {
    "Cast": "float32→float32 casts the exporter inserts around each op (dtype policy)",
    "Transpose": "NHWC↔NCHW layout changes around Conv and MaxPool",
    "Conv": "Conv2D's output before its bias and activation (one Keras layer, three ONNX ops)",
    "Add": "Conv2D's output before its activation (bias added as a separate op)",
    "MaxPool": "MaxPooling2D's output in NCHW, before the transpose back",
    "MatMul": "Dense's output before its bias Add",
    "Shape": "Flatten's target-shape arithmetic (int64 scalars/vectors)",
    "Gather": "Flatten's target-shape arithmetic",
    "Unsqueeze": "Flatten's target-shape arithmetic",
    "Concat": "Flatten's target-shape arithmetic",
    "Constant": "index constants of the target-shape arithmetic (int64, not weights)",
}


def test_keras_export_matches_h5():
    k = cli_json(str(H5), "--input", "32,32,3")
    o = cli_json(str(ONNX), "--input", "1,32,32,3")
    assert o["model"]["format"] == "onnx" and o["model"]["producer"].startswith("pytorch")

    # Params: identical (Conv2D kernel+bias, Dense kernel+bias), the ONNX ones split over ops.
    assert o["totals"]["params"] == k["totals"]["params"] == 8 * 27 + 8 + 2048 * 10 + 10
    assert o["totals"]["param_bytes"] == k["totals"]["param_bytes"]

    # Feature maps: each Keras layer's output is one ONNX tensor of the same bytes ...
    krows = {r["name"]: r for r in k["layers"]}
    orows = {r["name"]: r for r in o["layers"]}
    for layer, row in KERAS_OUTPUT_ROW.items():
        assert orows[row]["activation_bytes"] == krows[layer]["activation_bytes"], layer
    assert sum(orows[r]["activation_bytes"] for r in KERAS_OUTPUT_ROW.values()) \
        == k["totals"]["feature_map_bytes"]
    # ... and the difference is exactly the exporter's extra tensors, each explained above.
    extra = [r for name, r in orows.items() if name not in KERAS_OUTPUT_ROW.values()]
    assert all(r["type"] in EXTRA_ROWS for r in extra), {r["type"] for r in extra}
    # (index Constants are index data, not feature maps: README "What counts as a param")
    assert o["totals"]["feature_map_bytes"] - k["totals"]["feature_map_bytes"] \
        == sum(r["activation_bytes"] for r in extra if r["type"] != "Constant")
    assert o["totals"]["index_data_bytes"] == sum(
        r["activation_bytes"] for r in extra if r["type"] == "Constant")
