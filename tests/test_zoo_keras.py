"""Conformance over the whole keras.applications zoo (40 builders, with and without top,
Keras 3 and tf-keras): memscan's per-layer output shapes and params equal Keras's own, for
every layer, at each builder's default input and at a second (non-square) one.

The hollow files are stored gzip-compressed (fixtures/zoo/<framework>/<name>.h5.gz) and
decompressed to a temporary folder here; Keras's answers were recorded once by
fixtures/make_zoo.py (fixtures/zoo/oracles/), which the suite never runs (it takes minutes).
"""
from __future__ import annotations

import gzip
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
BUILDERS = 40
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
        assert compare(report, oracle) == [], oracle_path.name
        assert report.totals.layers_with_unknown_shapes == 0, oracle_path.name


def test_zoo_is_complete() -> None:
    """Both frameworks, every builder with and without top, each at two inputs."""
    for fw in FRAMEWORKS:
        files = sorted((ZOO / fw).glob("*.h5.gz"))
        assert len(files) == 2 * BUILDERS, (fw, len(files))
        for gz in files:
            name = gz.name.removesuffix(".h5.gz")
            oracles = list((ZOO / "oracles" / fw).glob(f"{name}@*.json"))
            assert len(oracles) == 2, (fw, name, oracles)
            shapes = [tuple(json.loads(o.read_text())["inputs"][0]) for o in oracles]
            assert len(set(shapes)) == 2


def test_zoo_stays_small() -> None:
    total = sum(p.stat().st_size for p in ZOO.rglob("*") if p.is_file())
    assert total < 40 * 2**20, f"the zoo takes {total / 2**20:.1f} MiB"
