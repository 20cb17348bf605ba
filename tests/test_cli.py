"""The real CLI as a subprocess: exit codes, one-line errors, output files, no TensorFlow."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import FIXTURES, ROOT, run_cli

VGG = str(FIXTURES / "keras3" / "vgg16.h5")


def test_table_shows_totals_with_units() -> None:
    proc = run_cli(VGG, "--input", "1024,1024,3")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "8,327.79 MiB" in out and "1,216.04 MiB" in out and "9,543.83 MiB" in out
    assert "int32-param-overflow" in out and "-2,147,479,552" in out
    assert "fc1" in out and "(1, 32, 32, 512)" in out


def test_json_to_file(tmp_path) -> None:
    out = tmp_path / "r.json"
    proc = run_cli(VGG, "--format", "json", "-o", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    data = json.loads(out.read_text())
    assert data["schema"] == "memscan/1"
    assert set(data) >= {"model", "batch", "inputs", "layers", "totals", "findings"}
    assert data["totals"]["params"] == 138_357_544  # stored input: no mismatch


def _one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for frag in fragments:
        assert frag in lines[0], lines[0]


def test_missing_file(tmp_path) -> None:
    _one_line_error(run_cli(str(tmp_path / "nope.h5")), "nope.h5", "no such file")


def test_empty_and_garbage_files(tmp_path) -> None:
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    _one_line_error(run_cli(str(empty)), "empty.h5", "empty")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not a model at all" * 10)
    _one_line_error(run_cli(str(junk)), "junk.h5", "not a model")
    truncated = tmp_path / "trunc.h5"
    truncated.write_bytes((FIXTURES / "keras3" / "vgg16.h5").read_bytes()[:5000])
    _one_line_error(run_cli(str(truncated)), "trunc.h5")


def test_unknown_dim_names_input_and_dim() -> None:
    proc = run_cli(str(FIXTURES / "keras3" / "vgg16_notop.h5"))
    _one_line_error(proc, "input_layer", "dim 1", "--input")


def test_bad_input_arguments() -> None:
    _one_line_error(run_cli(VGG, "--input", "1024,1024"), "has 3 dims besides the batch")
    _one_line_error(run_cli(VGG, "--input", "a,b,c"), "not an integer")
    _one_line_error(run_cli(VGG, "--input", "nope=224,224,3"), "nope")
    _one_line_error(run_cli(VGG, "--batch", "0"), "--batch")
    _one_line_error(run_cli(VGG, "--format", "xml"), "invalid choice")


def test_named_inputs() -> None:
    path = str(FIXTURES / "keras3" / "multi_io.h5")
    proc = run_cli(path, "--input", "b=64", "--input", "a=32", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    shapes = {i["name"]: i["shape"] for i in json.loads(proc.stdout)["inputs"]}
    assert shapes == {"a": [1, 32], "b": [1, 64]}


def test_weights_mismatch_is_a_finding_not_an_error() -> None:
    proc = run_cli(str(FIXTURES / "tf_keras" / "flatten_dense.h5"), "--input", "128,96,3",
                   "--format", "json")
    assert proc.returncode == 0
    codes = [(f["code"], f["layer"]) for f in json.loads(proc.stdout)["findings"]]
    assert codes == [("weights-mismatch", "fc")]


def test_h5_analysis_imports_no_tensorflow_or_keras() -> None:
    # In-process (--no-isolate): an isolated child's imports would not show here.
    code = (
        "import sys; from analyzer.cli import main; rc = main([%r, '--input', '512,512,3', "
        "'--format', 'json', '-o', '/dev/null', '--no-isolate']); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'tf_keras', 'torch', 'onnxruntime')); "
        "print(rc, bad)" % VGG)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.stdout.strip() == "0 []", proc.stderr


def test_module_and_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("memscan ")
    proc = run_cli("--help")
    assert proc.returncode == 0 and "examples:" in proc.stdout
