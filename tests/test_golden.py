"""Golden outputs: every renderer's output on four fixtures, byte for byte, from the real CLI.

The files under tests/golden/ are what ``memscan FIXTURE [--input ...] --format FMT`` printed
when they were last regenerated on purpose; any change to a figure, a renderer or a message
shows up here as a diff. Regenerate them only deliberately, then review the diff:

    .venv/bin/python -m pytest -q tests/test_golden.py --update-golden

Paths are relative to the checkout (the CLI runs from its root), and the checkout's absolute
path, should it ever appear, is replaced by ``<ROOT>``.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from invariants import totals_violations

GOLDEN = Path(__file__).resolve().parent / "golden"

#: case name -> CLI arguments (fixture path relative to the checkout, then options). One per
#: reader: Keras 3 .h5 (the README's VGG16 at 1024², with int32 and weights findings), a
#: .keras zip, ONNX (exported from Keras, shaped by onnx/onnxruntime), tf-keras .h5 (RNNs).
CASES: dict[str, tuple[str, ...]] = {
    "keras3_vgg16_1024": ("fixtures/keras3/vgg16.h5", "--input", "1024,1024,3"),
    "keras_zip_layer_mix": ("fixtures/keras_zip/layer_mix.keras",),
    "onnx_keras_export": ("fixtures/onnx/keras_export.onnx",),
    "tf_keras_seq_mix": ("fixtures/tf_keras/seq_mix.h5",),
}

#: renderer -> file suffix of its golden file.
RENDERERS: dict[str, str] = {
    "table": "txt", "json": "json", "markdown": "md", "csv": "csv", "html": "html",
    "summary": "summary.txt",
}


def _normalise(text: str) -> str:
    return text.replace(str(ROOT), "<ROOT>")


def _output(case: str, fmt: str) -> str:
    proc = run_cli(*CASES[case], "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    return _normalise(proc.stdout)


@pytest.mark.parametrize("fmt", list(RENDERERS))
@pytest.mark.parametrize("case", list(CASES))
def test_output_matches_golden(case: str, fmt: str, update_golden: bool) -> None:
    path = GOLDEN / f"{case}.{RENDERERS[fmt]}"
    got = _output(case, fmt)
    if update_golden:
        path.parent.mkdir(exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(got)
        return
    assert path.is_file(), f"{path} is missing: run pytest tests/test_golden.py --update-golden"
    with open(path, encoding="utf-8", newline="") as fh:
        want = fh.read()
    assert got == want, (f"{case} --format {fmt} differs from {path.relative_to(ROOT)}; if the "
                         "change is intended, rerun with --update-golden and review the diff")


@pytest.mark.parametrize("case", list(CASES))
def test_golden_rows_sum_to_totals(case: str) -> None:
    """The JSON's and the CSV renderer's rows add up to the JSON's totals (on the golden
    files, so regenerated goldens cannot break the sums either)."""
    report = json.loads((GOLDEN / f"{case}.json").read_text())
    assert totals_violations(report) == []
    totals = report["totals"]
    rows = list(csv.DictReader(io.StringIO((GOLDEN / f"{case}.csv").read_text())))
    assert rows
    assert sum(int(r["params"]) for r in rows) == totals["params"]
    assert sum(int(r["param_bytes"]) for r in rows) == totals["param_bytes"]
    assert sum(int(r["activation_bytes"] or 0) for r in rows
               if r.get("output_kind", "activation") == "activation") == totals["feature_map_bytes"]
