"""Incomplete means "at least": a tensor without a shape makes every activation figure a
lower bound, said in JSON (totals.complete / unshaped_tensors), in every renderer (≥) and by a
finding code a pipeline can gate on (issue 13 item 4)."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli

onnx = pytest.importorskip("onnx")

from onnx_models import tiny_cnn  # noqa: E402

LOWER_BOUND_ROWS = ("feature maps", "total", "activation peak", "inference peak", "arena",
                    "training")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Stored for 16×16: at 32×32 the MatMul's weight no longer fits, its output has no shape."""
    path = tmp_path_factory.mktemp("atleast") / "tiny.onnx"
    tiny_cnn(path, hw=16)
    return str(path)


def _totals_rows(text: str) -> dict[str, str]:
    rows = {}
    lines = text.splitlines()
    start = lines.index("totals:")
    for line in lines[start + 1:]:
        if not line.strip():
            break
        for name in LOWER_BOUND_ROWS + ("param memory", "params"):
            if line.startswith(name + " "):
                rows.setdefault(name, line[len(name):].strip())
    return rows


def test_complete_report_has_no_mark(tiny):
    r = json.loads(run_cli(tiny, "--input", "1,3,16,16", "--format", "json").stdout)
    assert r["totals"]["complete"] is True and r["totals"]["unshaped_tensors"] == 0
    assert "incomplete-shapes" not in {f["code"] for f in r["findings"]}
    text = run_cli(tiny, "--input", "1,3,16,16").stdout
    assert "≥" not in text


def test_unshaped_tensor_marks_every_activation_figure(tiny):
    r = json.loads(run_cli(tiny, "--input", "1,3,32,32", "--format", "json").stdout)
    t = r["totals"]
    assert t["complete"] is False and t["unshaped_tensors"] == 1  # the MatMul's output y
    f = next(f for f in r["findings"] if f["code"] == "incomplete-shapes")
    assert f["severity"] == "warning" and f["unshaped_tensors"] == 1

    text = run_cli(tiny, "--input", "1,3,32,32").stdout
    rows = _totals_rows(text)
    for name in LOWER_BOUND_ROWS:
        assert rows[name].startswith("≥ "), (name, rows[name])
    assert not rows["param memory"].startswith("≥")  # weights do not depend on shapes
    assert "≥: 1 tensors have no shape at this input" in text

    md = run_cli(tiny, "--input", "1,3,32,32", "--format", "markdown").stdout
    assert "≥: 1 tensors have no shape" in md
    header, sep, row = [l for l in md.splitlines() if l.startswith("|")][:3]
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")]))
    assert cells["feature maps MiB"].startswith("≥ ") and cells["total MiB"].startswith("≥ ")
    assert not cells["param MiB"].startswith("≥")

    html = run_cli(tiny, "--input", "1,3,32,32", "--format", "html").stdout
    assert "tensors of unknown size" in html and "≥ " in html


def test_fail_on_incomplete_shapes(tiny):
    ok = run_cli(tiny, "--input", "1,3,16,16", "--fail-on", "incomplete-shapes")
    assert ok.returncode == 0, ok.stderr
    tripped = run_cli(tiny, "--input", "1,3,32,32", "--fail-on", "incomplete-shapes")
    assert tripped.returncode == 1 and "incomplete-shapes" in tripped.stderr
