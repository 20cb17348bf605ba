"""A layer with several outputs (an LSTM returning its states, a layer shared by two calls)
costs the bytes of all of them: its activation bytes equal the sum over Keras's own output
shapes (fixtures/oracles) at the batch, float32. The layer-class goldens have no such layer."""
from __future__ import annotations

import json
import math

import pytest

from analyzer.analysis import analyse
from analyzer.inputs import InputArg

from conftest import FIXTURES, ORACLES

CASES = [p for p in sorted(ORACLES.glob("*/*.json"))
         if any(len(layer["output_shapes"] or []) > 1
                for layer in json.loads(p.read_text())["layers"])]


@pytest.mark.parametrize("oracle_path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_multi_output_rows_count_every_output(oracle_path) -> None:
    oracle = json.loads(oracle_path.read_text())
    inputs = [InputArg(None, tuple(s)) for s in oracle["inputs"]] if oracle["inputs"] else []
    model = FIXTURES / oracle_path.parent.name / f"{oracle_path.name.split('@', 1)[0]}.h5"
    report = analyse(str(model), inputs=inputs)
    rows = {r.name: r for r in report.layers}
    multi = [layer for layer in oracle["layers"] if len(layer["output_shapes"]) > 1]
    for layer in multi:
        want = sum(math.prod(report.batch if d is None else d for d in s) * 4
                   for s in layer["output_shapes"])
        assert rows[layer["name"]].activation_bytes == want, layer["name"]


def test_there_are_multi_output_layers() -> None:
    assert len(CASES) >= 4
