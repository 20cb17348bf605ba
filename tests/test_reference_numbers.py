"""The reference numbers of docs/design.md, reproduced exactly (VGG16 and DenseNet201 at 1024²)."""
from __future__ import annotations

import pytest

from conftest import FIXTURES, cli_json

MIB = 1024**2


@pytest.mark.parametrize("framework", ["keras3", "tf_keras"])
def test_vgg16_with_top_at_1024(framework: str) -> None:
    report = cli_json(str(FIXTURES / framework / "vgg16.h5"), "--input", "1024,1024,3")
    t = report["totals"]
    assert t["params"] == 2_183_080_744
    assert t["param_bytes"] == 8_732_322_976
    assert t["param_bytes"] / MIB == 8327.79214477539
    assert t["feature_map_bytes"] == 1_275_105_184
    assert t["feature_map_bytes"] / MIB == 1216.0350646972656
    assert t["total_bytes"] / MIB == 9543.827209472656
    assert t["stored_params"] == 138_357_544
    overflow = {f["layer"]: f for f in report["findings"] if f["code"] == "int32-param-overflow"}
    assert overflow["fc1"]["value"] == 2_147_487_744
    assert overflow["fc1"]["int32_value"] == -2_147_479_552
    assert overflow[None]["value"] == 2_183_080_744
    assert overflow[None]["int32_value"] == -2_111_886_552
    assert set(overflow) == {"fc1", None}
    mismatch = [f for f in report["findings"] if f["code"] == "weights-mismatch"]
    assert [(f["layer"], f["stored_shape"], f["needed_shape"]) for f in mismatch] == [
        ("fc1", [25088, 4096], [524288, 4096])]
    fc1 = next(r for r in report["layers"] if r["name"] == "fc1")
    assert (fc1["params"], fc1["stored_params"]) == (2_147_487_744, 102_764_544)
    assert fc1["output_shapes"] == [[1, 4096]]
    assert report["inputs"][0]["shape"] == [1, 1024, 1024, 3]
    assert report["model"]["format"] == "keras-h5"


@pytest.mark.parametrize("framework", ["keras3", "tf_keras"])
def test_densenet201_with_top_at_1024(framework: str) -> None:
    report = cli_json(str(FIXTURES / framework / "densenet201.h5"), "--input", "1024,1024,3")
    t = report["totals"]
    assert t["params"] == 20_242_984
    assert t["param_bytes"] / MIB == 77.22085571289062
    assert t["feature_map_bytes"] == 6_458_340_176
    assert t["feature_map_bytes"] / MIB == 6159.15315246582
    assert t["total_bytes"] / MIB == 6236.374008178711
    assert report["findings"] == []


@pytest.mark.parametrize("name,params", [("vgg16_notop", 14_714_688),
                                         ("densenet201_notop", 18_321_984)])
def test_no_top_params(name: str, params: int) -> None:
    for framework in ("keras3", "tf_keras"):
        report = cli_json(str(FIXTURES / framework / f"{name}.h5"), "--input", "1024,1024,3")
        assert report["totals"]["params"] == params


def test_rows_sum_to_totals() -> None:
    report = cli_json(str(FIXTURES / "keras3" / "densenet201.h5"), "--input", "640,480,3")
    rows, t = report["layers"], report["totals"]
    assert sum(r["params"] for r in rows) == t["params"]
    assert sum(r["param_bytes"] for r in rows) == t["param_bytes"]
    assert sum(r["activation_bytes"] for r in rows) == t["feature_map_bytes"]
    assert t["total_bytes"] == t["param_bytes"] + t["feature_map_bytes"]
    assert all(type(r["params"]) is int for r in rows)


def test_batch_scales_activations_not_weights() -> None:
    one = cli_json(str(FIXTURES / "keras3" / "resnet50.h5"), "--input", "320,320,3")
    four = cli_json(str(FIXTURES / "keras3" / "resnet50.h5"), "--input", "320,320,3",
                    "--batch", "4")
    assert four["totals"]["feature_map_bytes"] == 4 * one["totals"]["feature_map_bytes"]
    assert four["totals"]["param_bytes"] == one["totals"]["param_bytes"]
    assert four["batch"] == 4 and four["inputs"][0]["shape"] == [4, 320, 320, 3]
