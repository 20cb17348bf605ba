"""Oracle tests: memscan's per-layer output shapes and params equal what Keras itself reports.

Keras's answers were recorded by fixtures/record_oracles.py, which rebuilds each fixture from
its own saved config at each input without allocating weights (test_live_oracle.py checks
the recording against a live Keras build). Agreement is exact, layer by layer.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzer.analysis import analyse
from analyzer.errors import BadArguments
from analyzer.inputs import InputArg

from conftest import FIXTURES, ORACLES

CASES = sorted(ORACLES.glob("*/*.json"))


def _fixture_for(oracle: Path) -> Path:
    name = oracle.name.split("@", 1)[0]
    return FIXTURES / oracle.parent.name / f"{name}.h5"


def compare(report, oracle: dict) -> list[str]:
    """Differences between memscan's rows and Keras's layers, by layer name."""
    rows = {r.name: r for r in report.layers}
    problems = []
    for layer in oracle["layers"]:
        row = rows.get(layer["name"])
        if row is None:
            problems.append(f"{layer['name']}: missing from memscan's report")
            continue
        if row.params != layer["params"]:
            problems.append(f"{layer['name']}: params {row.params} != Keras {layer['params']}")
        if layer["output_shapes"] is not None:
            want = [[report.batch if i == 0 and d is None else d for i, d in enumerate(s)]
                    for s in layer["output_shapes"]]
            if row.output_shapes != want:
                problems.append(f"{layer['name']}: shapes {row.output_shapes} != Keras {want}")
    if report.totals.params != oracle["params"]:
        problems.append(f"model params {report.totals.params} != Keras {oracle['params']}")
    return problems


@pytest.mark.parametrize("oracle_path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_matches_keras(oracle_path: Path) -> None:
    oracle = json.loads(oracle_path.read_text())
    inputs = [InputArg(None, tuple(s)) for s in oracle["inputs"]] if oracle["inputs"] else []
    assert all(layer["output_shapes"] for layer in oracle["layers"]), "oracle lacks shapes"
    first = oracle["layers"][0]["output_shapes"][0]
    if not inputs and None in first[1:]:
        # Saved without a fixed size (include_top=False): memscan must ask for the input.
        with pytest.raises(BadArguments, match=r"dim 1 is unknown in the file"):
            analyse(str(_fixture_for(oracle_path)))
        return
    report = analyse(str(_fixture_for(oracle_path)), inputs=inputs)
    assert compare(report, oracle) == []


def test_every_fixture_has_oracles() -> None:
    fixtures = {(p.parent.name, p.stem) for p in FIXTURES.glob("*/*.h5")
                if p.parent.name in ("keras3", "tf_keras")}
    covered = {(p.parent.name, p.name.split("@", 1)[0]) for p in CASES}
    assert fixtures and fixtures <= covered
    # at the saved input and at least one other
    for fw, name in fixtures:
        assert len(list((ORACLES / fw).glob(f"{name}@*.json"))) >= 2, (fw, name)
