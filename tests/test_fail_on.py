"""--fail-on and --metric (and their [tool.memscan] keys) accept only what exists: a misspelt
finding code or metric is exit 2 with one line naming the known ones and the closest match,
never a gate that silently passes. Through the real CLI."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli

from analyzer.findings import CATALOGUE

VGG = str(FIXTURES / "keras3" / "vgg16.h5")


def _one_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("typo, meant", [("int32-overflow", "int32-param-overflow"),
                                         ("weight-mismatch", "weights-mismatch")])
def test_misspelt_fail_on_code_is_refused(typo: str, meant: str) -> None:
    # Before the catalogue, both exited 0 although VGG16 at 1024 has both findings.
    proc = run_cli(VGG, "--input", "1024,1024,3", "--fail-on", typo)
    line = _one_line(proc)
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"--fail-on {typo!r} is not a finding code; did you mean {meant}?" in line
    known = line.split("known codes: ", 1)[1].removesuffix(" (see memscan --help)").split(", ")
    assert sorted(known) == sorted({*CATALOGUE, "any-error"} - {"over-budget"})


def test_a_code_far_from_any_gets_no_guess_and_a_list_in_a_comma_list() -> None:
    proc = run_cli(VGG, "--fail-on", "shape-error,zzz")
    line = _one_line(proc)
    assert proc.returncode == 2
    assert "--fail-on 'zzz' is not a finding code; known codes: any-error, " in line


def test_over_budget_is_not_a_fail_on_code() -> None:
    # It comes from --budget, and the gate never matched it: accepting it would pass silently.
    proc = run_cli(VGG, "--fail-on", "over-budget")
    assert proc.returncode == 2 and "comes from --budget" in _one_line(proc)


def test_any_error_and_real_codes_still_gate() -> None:
    proc = run_cli(VGG, "--input", "1024,1024,3", "--fail-on", "any-error", "--format", "summary")
    assert proc.returncode == 1, proc.stderr
    proc = run_cli(VGG, "--input", "1024,1024,3", "--fail-on", "int32-param-overflow",
                   "--format", "summary")
    assert proc.returncode == 1 and "int32-param-overflow (fc1, model)" in proc.stderr


def test_misspelt_metric_is_refused_with_a_guess() -> None:
    proc = run_cli(VGG, "--budget", "1GiB", "--metric", "inferense")
    line = _one_line(proc)
    assert proc.returncode == 2
    assert ("invalid choice: 'inferense'; did you mean inference? known metrics: total, "
            "inference, training, params") in line


def test_pyproject_keys_are_checked_the_same_way(tmp_path: Path) -> None:
    py = tmp_path / "pyproject.toml"
    py.write_text('[tool.memscan]\nfail-on = ["int32-param-overflow", "int32-overflow"]\n')
    proc = run_cli(VGG, "--input", "1024,1024,3", cwd=tmp_path)
    line = _one_line(proc)
    assert proc.returncode == 2 and str(py) in line
    assert "did you mean int32-param-overflow?" in line
    py.write_text('[tool.memscan]\nmetric = "trainig"\nbudget = "1GiB"\n')
    proc = run_cli(VGG, cwd=tmp_path)
    line = _one_line(proc)
    assert proc.returncode == 2 and str(py) in line and "did you mean training?" in line
