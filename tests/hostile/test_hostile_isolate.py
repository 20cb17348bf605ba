"""Crash isolation: a child that aborts, hangs or eats memory becomes an error for that file."""
from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from conftest import FIXTURES, run_cli  # noqa: E402

from analyzer.analysis import analyse  # noqa: E402
from analyzer.errors import MemscanError, UnreadableArtifact  # noqa: E402
from analyzer.inputs import parse_input_arg  # noqa: E402
from analyzer.isolate import (CRASH_HOOK_ENV, IsolatedFailure, analyse_isolated,  # noqa: E402
                              isolate_by_default)
from analyzer.report import Report  # noqa: E402

SEQ = str(FIXTURES / "keras3" / "seq_conv1d.h5")
FLAT = str(FIXTURES / "tf_keras" / "flatten_dense.h5")


def test_isolated_report_equals_in_process() -> None:
    inputs = [parse_input_arg("96,96,3")]
    isolated = analyse_isolated(FLAT, inputs, 2)
    assert isinstance(isolated, Report)
    assert asdict(isolated) == asdict(analyse(FLAT, inputs, 2))


def test_isolated_error_is_the_readers_error(tmp_path) -> None:
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)
    with pytest.raises(MemscanError) as in_process:
        analyse(str(junk))
    isolated = analyse_isolated(str(junk))
    assert isinstance(isolated, UnreadableArtifact)
    assert str(isolated) == str(in_process.value)


@pytest.mark.parametrize("action, words", [("abort", "SIGABRT"), ("oom", "memory")])
def test_child_crash_or_oom_is_an_error_for_that_file(monkeypatch, action, words) -> None:
    monkeypatch.setenv(CRASH_HOOK_ENV, f"{action}:seq_conv1d")
    results = {p: analyse_isolated(p, memory_limit=1 * 2**30) for p in (FLAT, SEQ)}
    assert isinstance(results[FLAT], Report)  # the run goes on past the crashed file
    err = results[SEQ]
    assert isinstance(err, MemscanError) and SEQ in str(err) and words in str(err), err


def test_hung_child_is_stopped(monkeypatch) -> None:
    monkeypatch.setenv(CRASH_HOOK_ENV, "hang")
    err = analyse_isolated(SEQ, timeout=3)
    assert isinstance(err, MemscanError) and "time limit" in str(err) and SEQ in str(err)


def test_cli_isolate_turns_an_abort_into_exit_2() -> None:
    proc = run_cli(SEQ, "--isolate", env={CRASH_HOOK_ENV: "abort"})
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and SEQ in lines[0] and "SIGABRT" in lines[0], proc.stderr
    ok = run_cli(SEQ, "--isolate", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    # Isolation is the default; --no-isolate runs in-process, where the hook is never read.
    default = run_cli(SEQ, env={CRASH_HOOK_ENV: "abort"})
    assert default.returncode == 2 and "SIGABRT" in default.stderr
    assert run_cli(SEQ, "--no-isolate", "--format", "json",
                   env={CRASH_HOOK_ENV: "abort"}).returncode == 0


def test_isolate_default(monkeypatch) -> None:
    monkeypatch.delenv("MEMSCAN_DEBUG", raising=False)
    assert isolate_by_default(1) and isolate_by_default(2)
    monkeypatch.setenv("MEMSCAN_DEBUG", "1")  # tracebacks wanted: run in-process
    assert not isolate_by_default(1)


def test_cpu_limit_stops_a_spinning_child(monkeypatch) -> None:
    monkeypatch.setenv(CRASH_HOOK_ENV, "hang")
    err = analyse_isolated(SEQ, cpu_limit=1, timeout=30)
    assert isinstance(err, IsolatedFailure) and err.reason == "timeout", err
    assert "1 s of CPU" in str(err)
