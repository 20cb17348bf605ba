"""The product surface (issue 15): the Python API, output that fits a terminal and a PR
comment, JSON outputs, and one-line answers for formats memscan does not read."""
from __future__ import annotations

import doctest
import json
import re
import subprocess
import sys

import pytest

from analyzer import api, errors
from conftest import FIXTURES, ROOT, run_cli

VGG16 = str(FIXTURES / "keras3" / "vgg16.h5")
DENSENET201 = str(FIXTURES / "keras3" / "densenet201.h5")
VGG16_PARAMS_AT_1024 = 2_183_080_744  # Keras: Dense fc1 grows to 524288x4096 (oracle test)


def test_docstring_examples_run(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = doctest.testmod(api, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0


@pytest.mark.parametrize("given", [(1024, 1024, 3), [1024, 1024, 3], "1024,1024,3",
                                   "1024x1024x3", {"input_layer": (1024, 1024, 3)},
                                   {"input_layer": "1024,1024,3"}])
def test_analyse_takes_input_as_a_user_writes_it(given) -> None:
    report = api.analyse(VGG16, input=given)
    assert report.totals.params == VGG16_PARAMS_AT_1024
    assert report.inputs[0].shape == [1, 1024, 1024, 3]
    assert [(o.name, o.shape, o.dtype) for o in report.outputs] == [
        (report.outputs[0].name, [1, 1000], "float32")]


def test_report_json_and_notebook_display() -> None:
    report = api.analyse(VGG16, input=(1024, 1024, 3), batch=2)
    doc = json.loads(report.to_json())
    assert doc == report.to_dict() and doc["batch"] == 2
    assert doc["outputs"] == [{"name": report.outputs[0].name, "shape": [2, 1000],
                               "dtype": "float32"}]
    page = report._repr_html_()
    assert page.startswith("<!DOCTYPE html>") and "2,183,080,744" in page


@pytest.mark.parametrize("given, kind, text", [
    ("1024,abc", errors.BadArguments, "'abc' is not an integer"),
    ((1024, 1024), errors.BadArguments, "has 3 dims besides the batch"),
    ((1024, "x", 3), errors.BadArguments, "whole numbers"),
    ({"nope": (1, 2, 3)}, errors.BadArguments, "'nope'"),
])
def test_api_errors_are_memscan_errors(given, kind, text) -> None:
    with pytest.raises(kind) as info:
        api.analyse(VGG16, input=given)
    assert isinstance(info.value, errors.MemscanError) and text in str(info.value)


def test_api_unreadable_and_bad_options(tmp_path) -> None:
    with pytest.raises(errors.UnreadableArtifact, match="no such file"):
        api.analyse(str(tmp_path / "missing.h5"))
    with pytest.raises(errors.BadArguments, match="optimizer='rmsprop'"):
        api.analyse(VGG16, optimizer="rmsprop")
    with pytest.raises(errors.BadArguments, match="dtype='float8'"):
        api.analyse(VGG16, dtype="float8")


def test_audit_api_gates_and_keeps_bad_files_as_entries(tmp_path) -> None:
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"not hdf5")
    result = api.audit([VGG16, str(bad)], input="1024,1024,3", budget="8GiB",
                       fail_on="int32-param-overflow")
    good, broken = result.results
    assert good.report.totals.params == VGG16_PARAMS_AT_1024 and good.tripped
    assert "over budget" in good.gate.line and "fail-on" in good.gate.line
    assert broken.report is None and broken.error.kind == "unreadable"


def _table(*args: str, columns: str | None = None) -> str:
    env = {"COLUMNS": columns} if columns else {}
    proc = run_cli(VGG16, "--input", "1024,1024,3", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("width", [80, 60])
def test_table_fits_the_width_and_never_cuts_a_number(width: int) -> None:
    full, fitted = _table(), _table(columns=str(width))
    assert max(len(line) for line in full.splitlines()) > 120  # the unfitted table is wide
    assert max(len(line) for line in fitted.splitlines()) <= width
    # every number of the full table is still there, whole
    numbers = set(re.findall(r"\d[\d,]*\.\d\d|\d{1,3}(?:,\d{3})+", full))
    kept = set(re.findall(r"\d[\d,]*\.\d\d|\d{1,3}(?:,\d{3})+", fitted))
    assert {"2,183,080,744", "524.00", "8,851.79"} <= kept
    table_part = fitted.split("totals:")[0]
    assert "act MiB" in table_part and "256.00" in table_part
    assert kept <= numbers
    # totals and findings wrap at word boundaries: rejoined, every sentence is whole
    flat = " ".join(fitted.split())
    report = api.analyse(VGG16, input=(1024, 1024, 3))
    for f in report.findings:
        assert " ".join(f.message.split()) in flat
    assert ("most activations alive at once, layers run in order, each freed after its last "
            "reader") in flat


def test_table_to_a_pipe_keeps_every_column() -> None:
    out = _table()
    header = out.splitlines()[3]
    for title in ("layer", "type", "output shape", "params", "stored params", "param MiB",
                  "activation MiB", "live MiB after"):
        assert title in header


def _cli_json(path: str, *args: str) -> dict:
    proc = run_cli(path, *args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _row_names(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("--"))
    names = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        names.append(line.split()[1])
    return names


def test_layers_default_all_up_to_60_else_top_20_by_activation_bytes() -> None:
    doc = _cli_json(DENSENET201)
    rows = doc["layers"]
    assert len(rows) == 709
    by_size = sorted(range(len(rows)), key=lambda i: (-(rows[i]["activation_bytes"] or 0), i))
    proc = run_cli(DENSENET201)
    assert proc.returncode == 0
    assert _row_names(proc.stdout) == [rows[i]["name"] for i in sorted(by_size[:20])]
    assert "689 of 709 layers hidden" in proc.stdout
    top5 = run_cli(DENSENET201, "--layers", "top:5").stdout
    assert _row_names(top5) == [rows[i]["name"] for i in sorted(by_size[:5])]
    assert len(_row_names(run_cli(DENSENET201, "--layers", "all").stdout)) == 709
    none = run_cli(DENSENET201, "--layers", "none").stdout
    assert "709 layers not shown" in none and "totals:" in none and "\n--" not in none
    assert len(_row_names(_table())) == 23  # VGG16: 23 layers, all shown
    bad = run_cli(DENSENET201, "--layers", "top:0")
    assert bad.returncode == 2 and "expected all, none or top:N" in bad.stderr


def test_markdown_stays_under_githubs_comment_limit() -> None:
    small = run_cli(DENSENET201, "--format", "markdown").stdout
    assert len(small) <= 65_536 and re.search(r"Per-layer table \((\d+) of 709 rows\)", small)
    big = run_cli(DENSENET201, "--input", "1024,1024,3", "--format", "markdown").stdout
    assert len(big) <= 65_536
    shown = int(re.search(r"Per-layer table \((\d+) of 709 rows\)", big).group(1))
    assert 600 < shown < 709
    assert f"{709 - shown} of 709 layers hidden to stay under GitHub's 65,536" in big
    table_rows = [l for l in big.splitlines() if re.match(r"\| \d+ \|", l)]
    assert len(table_rows) == shown
    five = run_cli(str(FIXTURES / "keras3"), "--format", "markdown")
    for section in five.stdout.split("\n### ")[1:]:
        assert len(section) <= 65_536


def test_summary_carries_the_peak_and_the_arena() -> None:
    doc = _cli_json(VGG16, "--input", "1024,1024,3")
    out = run_cli(VGG16, "--input", "1024,1024,3", "--format", "summary").stdout
    header, _, row = out.splitlines()
    assert "activation peak MiB" in header and "arena MiB" in header
    t = doc["totals"]
    for v in (t["activation_peak_bytes"], t["arena_bytes"]):
        assert f"{v / 2**20:,.2f}" in row.split()


def test_html_totals_show_every_table_figure_and_the_chart_marks_the_peak() -> None:
    report = api.analyse(VGG16, input=(1024, 1024, 3))
    from analyzer.render import render
    from analyzer.render.totals import rows

    page = render(report, "html")
    totals_part = page.split("<h3>Totals</h3>")[1].split("<h3>")[0]
    for label, value, _ in rows(report):
        assert f"<td>{label}</td>" in totals_part and value in totals_part
    t = report.totals
    assert t.peak_layer == "block1_conv2" and t.activation_peak_bytes == 524 * 2**20
    assert (f'data-peak-bytes="{t.activation_peak_bytes}" data-peak-layer="block1_conv2"'
            in page)
    assert "peak 524.00 MiB during block1_conv2" in page


def test_json_outputs_for_every_format() -> None:
    multi = _cli_json(str(FIXTURES / "keras3" / "multi_io.h5"))
    assert len(multi["outputs"]) >= 2
    onnx = _cli_json(str(FIXTURES / "onnx" / "keras_export.onnx"))
    keras = _cli_json(str(FIXTURES / "onnx" / "keras_export.h5"))
    for doc in (multi, onnx, keras):
        assert doc["outputs"]
        for o in doc["outputs"]:
            assert set(o) == {"name", "shape", "dtype"} and o["shape"]
            assert None not in o["shape"] and o["dtype"] == "float32"
    # the same model exported to ONNX has the same output shape as the Keras file
    assert [o["shape"] for o in onnx["outputs"]] == [o["shape"] for o in keras["outputs"]]


@pytest.mark.parametrize("name, content, says", [
    ("model.pt", b"PK\x03\x04rest", "a PyTorch checkpoint, which memscan does not read; "
                                    "export the model to ONNX"),
    ("model.pth", b"\x80\x02junk", "a PyTorch checkpoint"),
    ("model.engine", b"\x00\x01junk", "a TensorRT engine"),
    ("weights.bin", b"GGUF\x03\x00\x00\x00", "a GGUF file (llama.cpp)"),
    ("model.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{}", "a safetensors file"),
    ("model.mlmodel", b"\x08\x04junk", "a Core ML model"),
])
def test_known_unreadable_formats_get_one_line_with_a_way_forward(tmp_path, name, content,
                                                                  says) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    proc = run_cli(str(path))
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and str(path) in lines[0]


def test_a_savedmodel_without_tensorflow_names_the_extra() -> None:
    folder = FIXTURES / "savedmodel" / "resnet50_export"
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "from analyzer.cli import main\n"
            f"sys.exit(main([{str(folder)!r}, '--input', '64,64,3', '--no-isolate']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert "pip install 'memscan[savedmodel]'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_split_writes_one_markdown_comment_per_artifact(tmp_path) -> None:
    out = tmp_path / "comments"
    notop = str(FIXTURES / "keras3" / "vgg16_notop.h5")
    proc = run_cli(VGG16, DENSENET201, notop, "--input", "1024,1024,3", "--format", "markdown",
                   "--budget", "8GiB", "--split", "-o", str(out))
    assert proc.returncode == 1, proc.stderr  # VGG16 over budget; all three analysed
    names = sorted(p.name for p in out.iterdir())
    assert names == ["001-vgg16.h5.md", "002-densenet201.h5.md", "003-vgg16_notop.h5.md"]
    for p in out.iterdir():
        text = p.read_text()
        assert len(text) <= 65_536 and text.startswith("## memscan report")
        assert text.count("\n### ") == 1
    assert "FAILED: over budget" in (out / "001-vgg16.h5.md").read_text()
    assert "vgg16.h5: over budget" in proc.stderr
    missing = run_cli(VGG16, "--split")
    assert missing.returncode == 2 and "--split needs -o FOLDER" in missing.stderr
