"""Conformance over the whole keras.applications zoo (40 builders, with and without top,
Keras 3 and tf-keras): memscan's per-layer output shapes and params equal Keras's own, for
every layer, at each builder's default input and at a second (non-square) one.

The hollow files are stored gzip-compressed (fixtures/zoo/<framework>/<name>.h5.gz) and
decompressed to a temporary folder here; Keras's answers were recorded once by
fixtures/make_zoo.py (fixtures/zoo/oracles/), which the suite never runs (it takes minutes).
"""
from __future__ import annotations

import gzip
import re
import json
import shutil
from pathlib import Path

import pytest

from analyzer import formats
from analyzer.analysis import analyse_graph
from analyzer.inputs import InputArg

from conftest import FIXTURES
from test_oracle_keras import compare

ZOO = FIXTURES / "zoo"
FILES = sorted(ZOO.glob("*/*.h5.gz"))
#: Every builder of keras.applications in Keras 3.15, and the frameworks we record.
BUILDER_NAMES = [
    "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge",
    "DenseNet121", "DenseNet169", "DenseNet201", "EfficientNetB0", "EfficientNetB1",
    "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5", "EfficientNetB6",
    "EfficientNetB7", "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2",
    "EfficientNetV2B3", "EfficientNetV2L", "EfficientNetV2M", "EfficientNetV2S",
    "InceptionResNetV2", "InceptionV3", "MobileNet", "MobileNetV2", "MobileNetV3Large",
    "MobileNetV3Small", "NASNetLarge", "NASNetMobile", "ResNet101", "ResNet101V2", "ResNet152",
    "ResNet152V2", "ResNet50", "ResNet50V2", "VGG16", "VGG19", "Xception",
]
FRAMEWORKS = ("keras3", "tf_keras")


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("zoo")


def _plain(zoo_dir: Path, gz: Path) -> Path:
    out = zoo_dir / gz.parent.name / gz.name.removesuffix(".gz")
    if not out.exists():
        out.parent.mkdir(exist_ok=True)
        with gzip.open(gz, "rb") as fin, open(out, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return out


@pytest.mark.parametrize("gz", FILES, ids=lambda p: f"{p.parent.name}/{p.name.removesuffix('.h5.gz')}")
def test_zoo_matches_keras(gz: Path, zoo_dir: Path) -> None:
    """Each file is read once and analysed at every input Keras's answers were recorded at."""
    name = gz.name.removesuffix(".h5.gz")
    oracles = sorted((ZOO / "oracles" / gz.parent.name).glob(f"{name}@*.json"))
    assert oracles, f"no recorded oracle for {gz}"
    plain = str(_plain(zoo_dir, gz))
    graph = formats.load(plain)
    for oracle_path in oracles:
        oracle = json.loads(oracle_path.read_text())
        inputs = [InputArg(None, tuple(s)) for s in oracle["inputs"]]
        report = analyse_graph(graph, plain, inputs=inputs)
        if "keras_error" in oracle:
            assert_refuses_like_keras(report, oracle["keras_error"])
            continue
        assert compare(report, oracle) == [], oracle_path.name
        assert report.totals.layers_with_unknown_shapes == 0, oracle_path.name


def assert_refuses_like_keras(report, keras_error: str) -> None:
    """Keras cannot run the file at this input: memscan must say so, at the same tensors."""
    errors = [f for f in report.findings if f.code == "shape-error"]
    assert errors, "Keras refuses this input but memscan found no shape error"
    shapes = re.findall(r"\((\d+(?:, \d+)+)\)", keras_error)[:2]
    assert len(shapes) == 2, keras_error
    assert all(f"(1, {s})" in errors[0].message for s in shapes), (errors[0].message, keras_error)


def test_zoo_is_complete() -> None:
    """Both frameworks, every builder with and without top, each at two inputs."""
    for fw in FRAMEWORKS:
        names = {gz.name.removesuffix(".h5.gz") for gz in (ZOO / fw).glob("*.h5.gz")}
        want = {b.lower() + s for b in BUILDER_NAMES for s in ("", "_notop")}
        assert want - names == set(), sorted(want - names)
        assert names <= want, sorted(names - want)
        for name in names:
            oracles = list((ZOO / "oracles" / fw).glob(f"{name}@*.json"))
            shapes = {tuple(json.loads(o.read_text())["inputs"][0]) for o in oracles}
            assert len(oracles) == len(shapes) == 2, (fw, name, oracles)
            assert any(s[0] != s[1] for s in shapes) or name.startswith("nasnet"), (fw, name)


def test_zoo_stays_small() -> None:
    total = sum(p.stat().st_size for p in ZOO.rglob("*") if p.is_file())
    assert total < 40 * 2**20, f"the zoo takes {total / 2**20:.1f} MiB"
