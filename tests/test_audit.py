"""Audits through the real CLI (a subprocess): many artifacts, budgets, --fail-on, exit codes,
project defaults, and the formats a person or CI reads."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import pty
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, run_cli

VGG = str(FIXTURES / "keras3" / "vgg16.h5")
MOBILENET = str(FIXTURES / "keras3" / "mobilenet.h5")
# docs/design.md's reference figures for VGG16 with top at 1024x1024x3 (Keras 3.15 and tf-keras).
VGG_1024_TOTAL = 10_007_428_160          # = 9543.827209472656 MiB
VGG_1024_PARAM_BYTES = 8_732_322_976
GIB = 2**30


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A folder as a user has one: models in sub-folders, notes, a hidden folder."""
    root = tmp_path / "models"
    (root / "vision").mkdir(parents=True)
    (root / "seq").mkdir()
    (root / ".git").mkdir()
    shutil.copy(VGG, root / "vision" / "vgg16.h5")
    shutil.copy(MOBILENET, root / "vision" / "mobilenet.h5")
    shutil.copy(FIXTURES / "tf_keras" / "flatten_dense.h5", root / "seq" / "flat.h5")
    shutil.copy(VGG, root / ".git" / "hidden.h5")
    (root / "README.txt").write_text("not a model\n")
    return root


def _stderr_lines(proc: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.strip().splitlines()


# ---- budgets ------------------------------------------------------------------------------

def test_under_budget_exits_0() -> None:
    proc = run_cli(VGG, MOBILENET, "--budget", "1GiB")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.count("memscan: ") == 2 and "summary: 2 artifacts" in proc.stdout


def test_over_budget_exits_1_and_says_by_how_much() -> None:
    proc = run_cli(VGG, "--input", "1024,1024,3", "--budget", "8GiB")
    assert proc.returncode == 1, proc.stderr
    [line] = _stderr_lines(proc)
    over = VGG_1024_TOTAL - 8 * GIB
    assert line.startswith(f"memscan: {VGG}: over budget: total ")
    assert f"is 1.32 GiB ({over:,} bytes) over the 8GiB budget" in line
    assert f"({VGG_1024_TOTAL:,} bytes)" in line
    # the table shows it as a finding too
    assert "over-budget" in proc.stdout
    # both gates tripping: still one line for the artifact
    proc = run_cli(VGG, "--input", "1024,1024,3", "--budget", "8GiB", "--fail-on",
                   "weights-mismatch")
    [line2] = _stderr_lines(proc)
    assert proc.returncode == 1
    assert line2 == line.rstrip() + "; fail-on: 1 finding: weights-mismatch (fc1)"


@pytest.mark.parametrize("budget, code, over", [
    ("9544MiB", 0, None),                                   # 10,007,609,344 bytes
    ("9543MiB", 1, VGG_1024_TOTAL - 9543 * 2**20),          # 867,392 bytes short
    ("10GB", 1, VGG_1024_TOTAL - 10 * 10**9),               # decimal: 7,428,160 bytes over
    ("10.008 GB", 0, None),
    (str(VGG_1024_TOTAL), 0, None),                         # plain bytes; equal is within
    (str(VGG_1024_TOTAL - 1), 1, 1),
])
def test_budget_units_are_exact(budget: str, code: int, over: int | None) -> None:
    proc = run_cli(VGG, "--input", "1024,1024,3", "--budget", budget, "--format", "json")
    assert proc.returncode == code, proc.stderr
    findings = [f for f in json.loads(proc.stdout)["findings"] if f["code"] == "over-budget"]
    if over is None:
        assert findings == [] and proc.stderr == ""
    else:
        assert [f["over_bytes"] for f in findings] == [over]
        assert f"{over:,} byte" in proc.stderr and " over the " in proc.stderr


def test_metric_params() -> None:
    proc = run_cli(VGG, "--input", "1024,1024,3", "--budget", "8GiB", "--metric", "params")
    assert proc.returncode == 1
    [line] = _stderr_lines(proc)
    assert f"params 8.13 GiB ({VGG_1024_PARAM_BYTES:,} bytes)" in line
    assert f"({VGG_1024_PARAM_BYTES - 8 * GIB:,} bytes) over" in line


@pytest.mark.parametrize("metric, key", [("inference", "inference_peak_bytes"),
                                         ("training", "training_bytes")])
def test_memory_model_metrics_read_their_totals(metric: str, key: str) -> None:
    from analyzer.report import Totals

    proc = run_cli(VGG, "--input", "1024,1024,3", "--budget", "1GiB", "--metric", metric)
    if key not in {f.name for f in dataclasses.fields(Totals)}:
        [line] = _stderr_lines(proc)
        assert proc.returncode == 2
        assert f"--metric {metric} reads totals.{key}" in line and "does not compute" in line
    else:  # the memory model is merged: VGG16 at 1024 needs far more than 1 GiB either way
        assert proc.returncode == 1, proc.stderr
        assert f"over budget: {metric} " in proc.stderr


@pytest.mark.parametrize("budget, message", [
    ("8G", "is a count; --metric total is bytes"), ("eight", "expected a number and a unit"),
    ("0.5B", "not a whole number of bytes"), ("0GiB", "more than 0 bytes"),
    ("1.5 PB", "unknown unit"),
])
def test_bad_budget_is_one_line_exit_2(budget: str, message: str) -> None:
    proc = run_cli(VGG, "--budget", budget)
    assert proc.returncode == 2
    [line] = _stderr_lines(proc)
    assert message in line and "--budget" in line


def test_parse_size_decimal_and_binary() -> None:
    from analyzer.budget import parse_size

    assert parse_size("1.5GB").nbytes == 1_500_000_000
    assert parse_size("1.5GiB").nbytes == 1_610_612_736
    assert parse_size("8 gib").nbytes == 8 * GIB
    assert parse_size("0.5KiB").nbytes == 512
    assert parse_size("3KB").nbytes == 3000
    assert parse_size("7").nbytes == 7
    assert parse_size("2MiB").unit == "MiB" and parse_size("2mb").unit == "MB"


# ---- --fail-on ----------------------------------------------------------------------------

def test_fail_on_code_exits_1_naming_the_findings() -> None:
    proc = run_cli(VGG, "--input", "1024,1024,3", "--fail-on", "int32-param-overflow")
    assert proc.returncode == 1
    [line] = _stderr_lines(proc)
    assert line == (f"memscan: {VGG}: fail-on: 2 findings: int32-param-overflow (fc1, model)")


def test_fail_on_lists_and_any_error() -> None:
    proc = run_cli(VGG, "--input", "1024,1024,3", "--fail-on", "lambda-layer,weights-mismatch",
                   "--fail-on", "custom-layer")
    assert proc.returncode == 1
    assert "fail-on: 1 finding: weights-mismatch (fc1)" in proc.stderr
    proc = run_cli(VGG, "--input", "1024,1024,3", "--fail-on", "any-error")
    assert proc.returncode == 1
    assert ("4 findings: int32-param-overflow (fc1, model), int32-elements (fc1), "
            "weights-mismatch (fc1)") in proc.stderr
    # at its saved input VGG16 has no finding: the same gates pass
    proc = run_cli(VGG, "--fail-on", "any-error,weights-mismatch")
    assert (proc.returncode, proc.stderr) == (0, "")
    proc = run_cli(VGG, "--input", "1024,1024,3", "--fail-on", "lambda-layer")
    assert (proc.returncode, proc.stderr) == (0, "")
    proc = run_cli(VGG, "--fail-on", "Not A Code")
    assert proc.returncode == 2 and "not a finding code" in proc.stderr


# ---- many artifacts -----------------------------------------------------------------------

def test_unreadable_artifact_among_good_ones_exits_2_and_reports_the_good(models: Path) -> None:
    (models / "vision" / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    (models / "empty.onnx").write_bytes(b"")
    proc = run_cli(str(models), "--format", "json")
    assert proc.returncode == 2
    data = json.loads(proc.stdout)
    assert data["schema"] == "memscan/1"
    paths = [r["model"]["path"] if "model" in r else r["path"] for r in data["reports"]]
    assert paths == [str(models / p) for p in ("empty.onnx", "seq/flat.h5", "vision/broken.h5",
                                               "vision/mobilenet.h5", "vision/vgg16.h5")]
    good = {r["model"]["path"]: r["totals"]["params"] for r in data["reports"] if "totals" in r}
    assert good == {str(models / "seq/flat.h5"): 61_666,
                    str(models / "vision/mobilenet.h5"): 4_253_864,
                    str(models / "vision/vgg16.h5"): 138_357_544}
    errors = {r["path"]: r["error"] for r in data["reports"] if "error" in r}
    assert errors[str(models / "empty.onnx")]["kind"] == "unreadable"
    assert "empty" in errors[str(models / "empty.onnx")]["message"]
    assert errors[str(models / "vision/broken.h5")]["kind"] in ("unreadable", "internal")
    assert {s["path"]: s["reason"] for s in data["skipped"]} == {
        str(models / ".git"): "hidden folder, not entered",
        str(models / "README.txt"): "not a model memscan can read (expected Keras .h5/.keras, "
                                    "SavedModel, ONNX or TFLite)"}
    lines = _stderr_lines(proc)
    assert sum(line.startswith("memscan: error: ") for line in lines) == 2
    assert any("broken.h5" in line for line in lines)
    assert any("skipped" in line and "README.txt" in line for line in lines)


def test_one_error_does_not_stop_the_table_or_the_gates(models: Path) -> None:
    junk = models / "junk.h5"
    junk.write_bytes(b"garbage" * 20)
    proc = run_cli(str(junk), VGG, "--input", "1024,1024,3", "--budget", "8GiB", "-j", "2")
    assert proc.returncode == 2  # unusable beats tripped
    assert f"memscan: {VGG}" in proc.stdout and "9,543.83 MiB" in proc.stdout
    assert f"memscan: error: {junk}: not a model" in proc.stderr
    assert f"memscan: {VGG}: over budget" in proc.stderr


def test_jobs_give_identical_reports_in_a_stable_order(models: Path) -> None:
    for i in range(4):
        shutil.copy(FIXTURES / "keras3" / "layer_mix.h5", models / f"mix{i}.h5")
    one = run_cli(str(models), VGG, "--format", "json", "--jobs", "1")
    two = run_cli(str(models), VGG, "--format", "json", "--jobs", "2")
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    assert one.stdout == two.stdout
    reports = json.loads(one.stdout)["reports"]
    assert [Path(r["model"]["path"]).name for r in reports] == [
        "mix0.h5", "mix1.h5", "mix2.h5", "mix3.h5", "flat.h5", "mobilenet.h5", "vgg16.h5",
        "vgg16.h5"]  # the fixture itself, named after the folder, is a different file


def test_exclude_and_verbose_skips(models: Path) -> None:
    proc = run_cli(str(models), "--exclude", "vision", "--exclude", "*.txt", "-v",
                   "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [r["model"]["path"] for r in data["reports"]] == [str(models / "seq" / "flat.h5")]
    assert f"memscan: skipped {models / 'vision'}: excluded by --exclude vision" in proc.stderr
    assert f"memscan: skipped {models / 'README.txt'}: excluded by --exclude *.txt" in proc.stderr


def test_a_folder_without_models_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# nothing\n")
    proc = run_cli(str(tmp_path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert _stderr_lines(proc) == [
        f"memscan: error: {tmp_path}: no model memscan can read in this folder (1 entries "
        f"skipped: {tmp_path / 'notes.md'}: not a model memscan can read (expected Keras "
        ".h5/.keras, SavedModel, ONNX or TFLite))"]


def test_progress_bar_only_on_a_terminal(models: Path) -> None:
    proc = run_cli(str(models), "--format", "json", "-o", os.devnull)
    assert "\r" not in proc.stderr and "[#" not in proc.stderr
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MEMSCAN_DEBUG", None)
    master, slave = pty.openpty()
    try:
        child = subprocess.run([sys.executable, "-m", "analyzer", str(models), "-j", "2",
                                "--format", "json", "-o", os.devnull], stderr=slave,
                               stdout=subprocess.DEVNULL, env=env, cwd=ROOT, timeout=120)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert child.returncode == 0
    text = seen.decode(errors="replace")
    assert "memscan [" in text and "3/3" in text  # drawn, then cleared with \r


# ---- project defaults ---------------------------------------------------------------------

def test_pyproject_defaults_and_flags_win(models: Path) -> None:
    project = models.parent
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.memscan]\ninputs = ["models/vision"]\n'
        'budget = "100MiB"\nformat = "json"\nfail-on = ["weights-mismatch"]\njobs = 2\n')
    sub = project / "src" / "deep"
    sub.mkdir(parents=True)
    proc = run_cli(cwd=sub)  # no argument at all: everything from [tool.memscan]
    assert proc.returncode == 1, proc.stderr
    reports = json.loads(proc.stdout)["reports"]
    assert [Path(r["model"]["path"]).name for r in reports] == ["mobilenet.h5", "vgg16.h5"]
    assert "vgg16.h5: over budget: total 586.01 MiB" in proc.stderr
    proc = run_cli("--budget", "1GiB", "--format", "table", cwd=sub)  # flags win
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("memscan: ")
    proc = run_cli(str(models / "seq"), "--input", "128,96,3", cwd=sub)  # paths win; gate kept
    assert proc.returncode == 1 and "fail-on: 1 finding: weights-mismatch (fc)" in proc.stderr
    proc = run_cli("--no-config", cwd=sub)
    assert proc.returncode == 2 and "give a model file or folder" in proc.stderr


def test_pyproject_mistakes_are_one_line_exit_2(tmp_path: Path) -> None:
    py = tmp_path / "pyproject.toml"
    py.write_text('[tool.memscan]\nbudgt = "1GiB"\n')
    proc = run_cli(VGG, cwd=tmp_path)
    [line] = _stderr_lines(proc)
    assert proc.returncode == 2 and str(py) in line and "unknown key 'budgt'" in line
    py.write_text('[tool.memscan]\nmetric = "peak"\n')
    [line] = _stderr_lines(run_cli(VGG, cwd=tmp_path))
    assert str(py) in line and "invalid choice: 'peak'" in line
    py.write_text('[tool.memscan]\nbudget = "8Q"\n')
    [line] = _stderr_lines(run_cli(VGG, cwd=tmp_path))
    assert str(py) in line and "unknown unit 'Q'" in line
    py.write_text("[tool.memscan\n")
    proc = run_cli(VGG, cwd=tmp_path)
    assert proc.returncode == 2 and str(py) in proc.stderr and "cannot read it" in proc.stderr


# ---- formats ------------------------------------------------------------------------------

def test_csv_has_a_row_per_layer_with_the_path() -> None:
    proc = run_cli(VGG, MOBILENET, "--format", "csv")
    assert proc.returncode == 0
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    one = json.loads(run_cli(VGG, "--format", "json").stdout)
    two = json.loads(run_cli(MOBILENET, "--format", "json").stdout)
    assert len(rows) == len(one["layers"]) + len(two["layers"])
    assert [r["path"] for r in rows] == [VGG] * len(one["layers"]) + [MOBILENET] * len(two["layers"])
    fc1 = next(r for r in rows if r["name"] == "fc1")
    assert int(fc1["params"]) == 102_764_544 and json.loads(fc1["output_shapes"]) == [[1, 4096]]
    assert sum(int(r["activation_bytes"]) for r in rows if r["path"] == VGG) == \
        one["totals"]["feature_map_bytes"]


def test_markdown_summary_and_collapsed_layer_tables() -> None:
    proc = run_cli(VGG, MOBILENET, "--input", "1024,1024,3", "--format", "markdown",
                   "--budget", "8GiB")
    assert proc.returncode == 1
    md = proc.stdout
    header = "| artifact | format | params | param MiB | feature maps MiB | total MiB |"
    assert header in md
    # ... activation peak, arena, inference peak, training (kept + backward: backward_saved)
    assert (f"| {VGG} | keras-h5 | 2,183,080,744 | 8,327.79 | 1,216.04 | 9,543.83 | 524.00 | "
            "524.00 | 8,851.79 | 34,779.17 | 322.88 G | over by 1.32 GiB") in md
    assert md.count("<details><summary>Per-layer table") == 2 and md.count("</details>") == 2
    assert "| 23 | predictions | Dense | (1, 1000) |" in md
    assert "FAILED: over budget" in md


class _Checker(HTMLParser):
    VOID = {"meta", "link", "br", "img", "hr", "input", "col", "area", "base", "wbr", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def test_html_is_well_formed_and_self_contained(tmp_path: Path) -> None:
    (tmp_path / "junk.h5").write_bytes(b"junk" * 30)
    proc = run_cli(VGG, MOBILENET, str(tmp_path / "junk.h5"), "--input", "1024,1024,3",
                   "--format", "html", "--fail-on", "weights-mismatch")
    assert proc.returncode == 2
    page = proc.stdout
    assert page.startswith("<!DOCTYPE html>")
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.problems == [] and checker.stack == []
    assert "http://" not in page and "https://" not in page and "://" not in page
    for tag, attrs in checker.tags:
        assert not (tag == "script"), "no script at all"
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith(("#", "data:")), (tag, attrs)
    assert sum(1 for t, a in checker.tags if t == "svg" and "chart" in a.get("class", "")) == 2
    assert "FAILED: " in page and "junk.h5" in page and "unusable" in page
    assert 'data-curve="live"' in page and "live memory during each layer" in page


def test_help_and_version() -> None:
    from analyzer import __version__

    proc = run_cli("--version")
    assert proc.stdout.strip() == f"memscan {__version__}"
    out = run_cli("--help").stdout
    assert "examples:" in out and "--budget 8GiB" in out and "exit codes:" in out
    for code in ("0  analysed", "1  analysed; a budget", "2  a file or the arguments"):
        assert code in out
