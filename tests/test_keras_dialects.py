"""Keras config dialects and file layouts that the generated fixtures do not cover:
Keras 2.0-2.2 configs, split attribute lists, unknown and custom layers."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest

from analyzer.analysis import analyse
from analyzer.inputs import InputArg

from conftest import FIXTURES, run_cli


def write_h5(path: Path, config: dict, weights: dict[str, dict[str, tuple]],
             keras_version: str = "2.0.5", split_names: bool = False) -> Path:
    """A Keras-layout HDF5 file: model_config plus hollow weight datasets."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = keras_version.encode()
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode()
        mw = f.create_group("model_weights")
        names = [n.encode() for n in weights]
        if split_names:  # what Keras does when the list passes HDF5's 64 KB attribute limit
            mw.attrs["layer_names0"] = names[: len(names) // 2]
            mw.attrs["layer_names1"] = names[len(names) // 2:]
        else:
            mw.attrs["layer_names"] = names
        for layer, ws in weights.items():
            g = mw.create_group(layer)
            g.attrs["weight_names"] = [w.encode() for w in ws]
            for wname, shape in ws.items():
                g.create_dataset(wname, shape=shape, dtype="float32", chunks=True)
    return path


KERAS_20_SEQUENTIAL = {
    "class_name": "Sequential",
    "config": [
        {"class_name": "Conv2D", "config": {"name": "conv2d_1", "filters": 8,
                                            "kernel_size": [3, 3], "strides": [1, 1],
                                            "padding": "valid", "data_format": "channels_last",
                                            "dilation_rate": [1, 1], "use_bias": True,
                                            "batch_input_shape": [None, 48, 48, 1],
                                            "dtype": "float32"}},
        {"class_name": "MaxPooling2D", "config": {"name": "max_pooling2d_1",
                                                  "pool_size": [2, 2], "strides": [2, 2],
                                                  "padding": "valid",
                                                  "data_format": "channels_last"}},
        {"class_name": "Flatten", "config": {"name": "flatten_1"}},
        {"class_name": "Dense", "config": {"name": "dense_1", "units": 7, "use_bias": True}},
    ],
}


def test_keras_20_sequential_as_a_list(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "old.h5", KERAS_20_SEQUENTIAL, {
        "conv2d_1": {"conv2d_1/kernel:0": (3, 3, 1, 8), "conv2d_1/bias:0": (8,)},
        "max_pooling2d_1": {}, "flatten_1": {},
        "dense_1": {"dense_1/kernel:0": (23 * 23 * 8, 7), "dense_1/bias:0": (7,)},
    })
    report = analyse(str(path))
    rows = {r.name: r for r in report.layers}
    assert rows["conv2d_1"].output_shapes == [[1, 46, 46, 8]]
    assert rows["dense_1"].output_shapes == [[1, 7]]
    assert report.totals.params == 3 * 3 * 8 + 8 + 23 * 23 * 8 * 7 + 7
    assert report.model.producer == "keras 2.0.5"
    assert report.findings == []


KERAS_22_MODEL = {
    "class_name": "Model",
    "config": {
        "name": "model_1",
        "layers": [
            {"name": "input_1", "class_name": "InputLayer",
             "config": {"batch_input_shape": [None, 10], "dtype": "float32", "name": "input_1"},
             "inbound_nodes": []},
            {"name": "d1", "class_name": "Dense", "config": {"name": "d1", "units": 4},
             "inbound_nodes": [[["input_1", 0, 0, {}]]]},
            {"name": "d2", "class_name": "Dense", "config": {"name": "d2", "units": 4},
             "inbound_nodes": [[["input_1", 0, 0, {}]]]},
            {"name": "add_1", "class_name": "Add", "config": {"name": "add_1"},
             "inbound_nodes": [[["d1", 0, 0, {}], ["d2", 0, 0, {}]]]},
            {"name": "custom", "class_name": "MyBlock",
             "config": {"name": "custom", "units": 3}, "module": "my_company.layers",
             "inbound_nodes": [[["add_1", 0, 0, {}]]]},
            {"name": "after", "class_name": "Dense", "config": {"name": "after", "units": 2},
             "inbound_nodes": [[["custom", 0, 0, {}]]]},
        ],
        "input_layers": [["input_1", 0, 0]],
        "output_layers": [["after", 0, 0], ["add_1", 0, 0]],
    },
}


def test_keras_22_model_with_custom_layer(tmp_path: Path) -> None:
    weights = {"input_1": {}, "d1": {"d1/kernel:0": (10, 4), "d1/bias:0": (4,)},
               "d2": {"d2/kernel:0": (10, 4), "d2/bias:0": (4,)}, "add_1": {},
               "custom": {"custom/w:0": (4, 3)},
               "after": {"after/kernel:0": (3, 2), "after/bias:0": (2,)}}
    path = write_h5(tmp_path / "m.h5", KERAS_22_MODEL, weights, "2.2.4", split_names=True)
    report = analyse(str(path), inputs=[InputArg(None, (10,))])
    rows = {r.name: r for r in report.layers}
    assert rows["add_1"].output_shapes == [[1, 4]]
    # The custom layer is never imported: unknown shape, stored params kept.
    assert rows["custom"].output_shapes == [None] and rows["custom"].params == 12
    assert rows["after"].output_shapes == [None] and rows["after"].activation_bytes is None
    assert rows["after"].params == 8  # falls back to what the file stores
    codes = [(f.code, f.layer) for f in report.findings]
    assert codes == [("custom-layer", "custom"), ("incomplete-shapes", None)]
    assert report.totals.layers_with_unknown_shapes == 2
    assert report.totals.feature_map_bytes == 4 * (10 + 4 + 4 + 4)


def test_cycle_in_inbound_nodes_is_one_line(tmp_path: Path) -> None:
    cfg = json.loads(json.dumps(KERAS_22_MODEL))
    layers = cfg["config"]["layers"]
    layers[1]["inbound_nodes"] = [[["after", 0, 0, {}]]]  # d1 <- after <- custom <- add <- d1
    path = write_h5(tmp_path / "cycle.h5", cfg, {"input_1": {}})
    proc = run_cli(str(path))
    assert proc.returncode == 2 and "cycle" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_vgg16_hollow_matches_its_size_claim() -> None:
    """The committed VGG16 fixture is hollow: tiny on disk, full shapes inside."""
    path = FIXTURES / "keras3" / "vgg16.h5"
    assert path.stat().st_size < 200_000
    with h5py.File(path) as f:
        ds = f["model_weights/fc1/fc1/kernel"]
        assert ds.shape == (25088, 4096) and ds.id.get_storage_size() == 0


@pytest.mark.parametrize("framework", ["keras3", "tf_keras"])
def test_nested_model_rows(framework: str) -> None:
    report = analyse(str(FIXTURES / framework / "multi_io.h5"))
    rows = {r.name: r for r in report.layers}
    assert rows["inner"].type == "Functional"
    assert rows["inner"].output_shapes == [[1, 4], [1, 4]]  # called twice
    assert rows["shared"].params == 16 * 8 + 8  # shared weights counted once
    assert rows["inner"].params == 8 * 4 + 4


def test_loose_weights_grouped_by_layer_even_with_a_leading_slash() -> None:
    from analyzer.analysis import loose_weight_figures
    from analyzer.ir import WeightSpec

    rows = loose_weight_figures([WeightSpec("/block/conv/w", (3, 4)),
                                 WeightSpec("/block/conv/b", (4,)),
                                 WeightSpec("dense/kernel", (2, 2)), WeightSpec("/", (5,))])
    assert [(f.row.name, f.row.params) for f in rows] == [("block", 16), ("dense", 4), ("/", 5)]
