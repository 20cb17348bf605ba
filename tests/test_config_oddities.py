"""Config oddities seen in files saved in the wild: lambda/dict activations, Lambda layers
with marshalled bytecode (never unmarshalled), layer names with '/', nested models called
with node indices above 0."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from conftest import cli_json

#: Marshalled bytecode as Keras 2 stores it (base64). Deliberately garbage: unmarshalling or
#: running it would fail loudly, so a clean report proves memscan never touches it.
BYTECODE = "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwApAk7pAgAAAKkA///"


def _layer(cls: str, name: str, inbound: list, **cfg) -> dict:
    return {"class_name": cls, "name": name, "config": {"name": name, **cfg},
            "inbound_nodes": [[[i, n, 0, {}] for i, n in inbound]] if inbound else []}


def _write(path: Path, config: dict, weights: dict[str, dict[str, tuple]]) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode()
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([l["name"].encode() for l in config["config"]["layers"]])
        for layer in config["config"]["layers"]:
            lg = g.require_group(layer["name"])
            ws = weights.get(layer["name"], {})
            lg.attrs["weight_names"] = np.array([w.encode() for w in ws], dtype="S")
            for wname, shape in ws.items():
                lg.create_dataset(wname, shape=shape, dtype="float32", chunks=True)


def test_oddities(tmp_path: Path) -> None:
    inner = {"class_name": "Model", "name": "inner", "config": {
        "name": "inner",
        "layers": [_layer("InputLayer", "inner_in", [], batch_input_shape=[None, 8],
                          dtype="float32"),
                   _layer("Dense", "inner_dense", [("inner_in", 0)], units=4,
                          activation={"class_name": "relu", "config": {}}, use_bias=True)],
        "input_layers": [["inner_in", 0, 0]], "output_layers": [["inner_dense", 0, 0]]},
        # tf-keras counts the nested model's own construction as node 0: calls are 1 and 2.
        "inbound_nodes": [[["block/dense", 0, 0, {}]], [["block/dense2", 0, 0, {}]]]}
    layers = [
        _layer("InputLayer", "x", [], batch_input_shape=[None, 16], dtype="float32"),
        _layer("Dense", "block/dense", [("x", 0)], units=8, activation="<lambda>", use_bias=True),
        _layer("Dense", "block/dense2", [("x", 0)], units=8,
               activation={"module": "keras.activations", "class_name": "function",
                           "config": "relu", "registered_name": "function"}, use_bias=False),
        inner,
        _layer("Lambda", "lam_shaped", [("inner", 1)], function=[BYTECODE, None, None],
               function_type="lambda", output_shape=[2, 2], output_shape_type="raw",
               arguments={}),
        _layer("Lambda", "lam_unknown", [("inner", 2)], function=[BYTECODE, None, None],
               function_type="lambda", output_shape=None, output_shape_type="raw",
               arguments={}),
        _layer("Flatten", "flat", [("lam_shaped", 0)]),
    ]
    config = {"class_name": "Model", "config": {
        "name": "odd", "layers": layers, "input_layers": [["x", 0, 0]],
        "output_layers": [["flat", 0, 0], ["lam_unknown", 0, 0]]}}
    path = tmp_path / "odd.h5"
    _write(path, config, {"block/dense": {"kernel:0": (16, 8), "bias:0": (8,)},
                          "block/dense2": {"kernel:0": (16, 8)},
                          "inner": {"inner_dense/kernel:0": (8, 4), "inner_dense/bias:0": (4,)}})
    data = cli_json(str(path))
    rows = {r["name"]: r for r in data["layers"]}
    assert rows["block/dense"]["params"] == 136 and rows["block/dense2"]["params"] == 128
    assert rows["inner"]["params"] == 36 and rows["inner"]["stored_params"] == 36
    assert rows["inner"]["output_shapes"] == [[1, 4], [1, 4]]
    assert rows["lam_shaped"]["output_shapes"] == [[1, 2, 2]]
    assert rows["flat"]["output_shapes"] == [[1, 4]]
    assert rows["lam_unknown"]["output_shapes"] == [None]
    lam = sorted(f["layer"] for f in data["findings"] if f["code"] == "lambda-layer")
    assert lam == ["lam_shaped", "lam_unknown"]
    # the Lambda's output has no shape, so the figures are lower bounds (incomplete-shapes)
    assert {f["code"] for f in data["findings"]} == {"lambda-layer", "incomplete-shapes"}
