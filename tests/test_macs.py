"""MACs (multiply-accumulates) beside memory: docs/macs.md's convention, checked against a
formula computed here from Keras's own answers, and against published totals.

The zoo check does not reuse memscan's kernel sizes or channel counts: for a convolution or a
dense layer, Keras's recorded params give the kernel volume × input channels / groups as
(params − bias) / output channels, and Keras's recorded output shape gives the output
elements; their product is the layer's MACs. Only ``use_bias`` (and a separable layer's
``kernel_size``) come from the file's config, read here with h5py and json.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import pytest

from analyzer import formats
from analyzer.analysis import analyse_graph
from analyzer.inputs import InputArg

from conftest import run_cli
from test_zoo_keras import FILES, ZOO, _plain

#: Layer classes the convention counts as convolution/dense in the zoo.
PLAIN = {"Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D", "Dense"}
SEPARABLE = {"SeparableConv2D"}
NESTED = {"Sequential", "Functional", "Model"}


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("zoo_macs")


def _layer_configs(path: str) -> dict[str, dict]:
    """Layer name -> config, every nesting level, straight from the file's model_config."""
    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
    config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    out: dict[str, dict] = {}
    stack = [config]
    while stack:
        spec = stack.pop()
        cfg = spec.get("config", {})
        if isinstance(cfg, dict):
            if "name" in cfg:
                out[cfg["name"]] = cfg
            stack.extend(x for x in cfg.get("layers", []) if isinstance(x, dict))
    return out


def expected_macs(layer: dict, cfg: dict, batch: int) -> int:
    """The convention's formula from Keras's recorded shape and params."""
    out = [batch if d is None else d for d in layer["output_shapes"][0]]
    channels = out[-1]
    bias = channels if cfg.get("use_bias", True) else 0
    weights = layer["params"] - bias
    if layer["type"] in SEPARABLE:
        kv = math.prod(cfg["kernel_size"])
        mid = weights // (kv + channels)  # depthwise kv·mid + pointwise mid·channels
        assert mid * (kv + channels) == weights
        return math.prod(out[:-1]) * mid * kv + math.prod(out) * mid
    assert weights % channels == 0
    return math.prod(out) * (weights // channels)


def _oracle(gz: Path) -> Path:
    """The first recorded input Keras can run the file at."""
    name = gz.name.removesuffix(".h5.gz")
    found = sorted((ZOO / "oracles" / gz.parent.name).glob(f"{name}@*.json"))
    return next((p for p in found if "keras_error" not in json.loads(p.read_text())), found[0])


@pytest.mark.parametrize("gz", FILES, ids=lambda p: f"{p.parent.name}/{p.name[:-6]}")
def test_zoo_conv_and_dense_macs_equal_the_formula(gz: Path, zoo_dir: Path) -> None:
    oracle = json.loads(_oracle(gz).read_text())
    if "keras_error" in oracle:
        pytest.skip("Keras refuses this input")
    plain = str(_plain(zoo_dir, gz))
    configs = _layer_configs(plain)
    report = analyse_graph(formats.load(plain), plain,
                           inputs=[InputArg(None, tuple(s)) for s in oracle["inputs"]])
    rows = {r.name: r for r in report.layers}
    checked = 0
    for layer in oracle["layers"]:
        if layer["type"] not in PLAIN | SEPARABLE:
            continue
        want = expected_macs(layer, configs[layer["name"]], report.batch)
        assert rows[layer["name"]].macs == want, layer["name"]
        checked += 1
    assert checked > 0
    assert report.totals.layers_with_unknown_macs == 0
    # Everything else the zoo holds (pooling, normalization, activations...) counts 0; nested
    # models (ConvNeXt's stem and downsampling blocks) sum their own layers.
    others = [r for r in report.layers if r.type not in PLAIN | SEPARABLE | NESTED]
    assert [r.name for r in others if r.macs] == []
    assert report.totals.macs == sum(r.macs for r in report.layers)


def _zoo_report(framework: str, name: str, zoo_dir: Path, size: tuple[int, ...]):
    plain = str(_plain(zoo_dir, ZOO / framework / f"{name}.h5.gz"))
    return analyse_graph(formats.load(plain), plain, inputs=[InputArg(None, size)])


def test_vgg16_at_224_totals_15_47_g(zoo_dir: Path) -> None:
    for framework in ("keras3", "tf_keras"):
        report = _zoo_report(framework, "vgg16", zoo_dir, (224, 224, 3))
        assert report.totals.macs == 15_470_264_320


@pytest.mark.parametrize("name,published,tolerance", [
    # He et al. 2015, table 1: 3.8 × 10^9 FLOPs (multiply-adds) for ResNet-50; the counted
    # 3.86 G is the paper's 3.8 G with the 1000-way dense layer and exact stage sizes.
    ("resnet50", 3.8e9, 0.02),
    # Sandler et al. 2018, table 4: MobileNetV2 (1.0, 224) 300M multiply-adds.
    ("mobilenetv2", 300e6, 0.02),
])
def test_published_totals(name: str, published: float, tolerance: float, zoo_dir: Path) -> None:
    report = _zoo_report("keras3", name, zoo_dir, (224, 224, 3))
    assert abs(report.totals.macs / published - 1) <= tolerance, report.totals.macs


def test_macs_in_json_and_table(zoo_dir: Path) -> None:
    plain = str(_plain(zoo_dir, ZOO / "keras3" / "vgg16.h5.gz"))
    res = run_cli(plain, "--input", "224,224,3", "--format", "json")
    data = json.loads(res.stdout)
    assert data["totals"]["macs"] == 15_470_264_320
    assert sum(r["macs"] for r in data["layers"]) == 15_470_264_320
    table = run_cli(plain, "--input", "224,224,3").stdout
    assert "15.47 G" in table and "15,470,264,320 multiply-accumulates" in table
    md = run_cli(plain, "--input", "224,224,3", "--format", "markdown").stdout
    assert "| MACs |" in md.replace(" MACs |", " MACs |") and "15.47 G" in md


@pytest.mark.parametrize("budget,code", [("16G", 0), ("15G", 1), ("14.5Gi", 0), ("14Gi", 1),
                                         ("15470264320", 0), ("15470264319", 1)])
def test_budget_on_macs(budget: str, code: int, zoo_dir: Path) -> None:
    plain = str(_plain(zoo_dir, ZOO / "keras3" / "vgg16.h5.gz"))
    res = run_cli(plain, "--input", "224,224,3", "--metric", "macs", "--budget", budget,
                  "--format", "summary")
    assert res.returncode == code, res.stdout + res.stderr
    if code:
        assert "MACs" in res.stderr + res.stdout


@pytest.mark.parametrize("args", [("--metric", "macs", "--budget", "10GB"),
                                  ("--metric", "total", "--budget", "10G")])
def test_budget_units_must_fit_the_metric(args: tuple[str, ...], zoo_dir: Path) -> None:
    plain = str(_plain(zoo_dir, ZOO / "keras3" / "vgg16.h5.gz"))
    res = run_cli(plain, "--input", "224,224,3", *args)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1


def test_onnx_macs_equal_the_formula(tmp_path: Path) -> None:
    from onnx_models import mac_models

    for path, expected in mac_models(tmp_path).items():
        report = cli_report(path)
        rows = {r["name"]: r["macs"] for r in report["layers"]}
        for node, want in expected.items():
            assert rows[node] == want, (path, node)
        assert report["totals"]["macs"] == sum(expected.values()), path


def cli_report(path: str) -> dict:
    res = run_cli(path, "--format", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)
