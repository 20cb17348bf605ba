"""Crash isolation: a child that aborts, hangs or eats memory becomes an error for that file."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from conftest import FIXTURES, ROOT, run_cli  # noqa: E402
from faults import crashing  # noqa: E402

from analyzer import analysis  # noqa: E402
from analyzer.analysis import analyse  # noqa: E402
from analyzer.errors import MemscanError, UnreadableArtifact  # noqa: E402
from analyzer.inputs import parse_input_arg  # noqa: E402
from analyzer.isolate import IsolatedFailure, analyse_isolated, isolate_by_default  # noqa: E402
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
    monkeypatch.setattr(analysis, "analyse", crashing(action, "seq_conv1d"))
    results = {p: analyse_isolated(p, memory_limit=1 * 2**30) for p in (FLAT, SEQ)}
    assert isinstance(results[FLAT], Report)  # the run goes on past the crashed file
    err = results[SEQ]
    assert isinstance(err, MemscanError) and SEQ in str(err) and words in str(err), err


def test_hung_child_is_stopped(monkeypatch) -> None:
    monkeypatch.setattr(analysis, "analyse", crashing("hang"))
    err = analyse_isolated(SEQ, timeout=3)
    assert isinstance(err, MemscanError) and "time limit" in str(err) and SEQ in str(err)


def _faulty_cli(fault: str, *args: str):
    """The real CLI with a reader fault planted from outside the product (faults.py)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MEMSCAN_DEBUG", None)
    return subprocess.run([sys.executable, str(HERE / "faults.py"), fault, "--", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)


def test_cli_isolate_turns_an_abort_into_exit_2() -> None:
    proc = _faulty_cli("abort", SEQ, "--isolate")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and SEQ in lines[0] and "SIGABRT" in lines[0], proc.stderr
    ok = run_cli(SEQ, "--isolate", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    # Isolation is the default; --no-isolate runs in-process (where the fault would kill
    # the CLI itself, which is what isolation is for).
    default = _faulty_cli("abort", SEQ)
    assert default.returncode == 2 and "SIGABRT" in default.stderr
    assert _faulty_cli("abort", SEQ, "--no-isolate").returncode < 0


def test_the_shipped_code_has_no_crash_hook() -> None:
    """The fault is planted by the tests alone: the product reads no test variable."""
    for path in (ROOT / "analyzer").rglob("*.py"):
        text = path.read_text()
        assert "MEMSCAN_TEST" not in text and "os.abort" not in text, path
    proc = run_cli(SEQ, "--format", "json", env={"MEMSCAN_TEST_CRASH_IN_CHILD": "abort"})
    assert proc.returncode == 0, proc.stderr


def test_children_are_warm_after_the_first() -> None:
    """The first isolated child reports the modules it imported; the forking process imports
    them, so the next child is forked with them loaded (in a fresh interpreter, to see it)."""
    script = (
        "import sys, time\n"
        "from analyzer.isolate import analyse_isolated\n"
        "assert 'h5py' not in sys.modules\n"
        f"first = analyse_isolated({FLAT!r})\n"
        "assert 'h5py' in sys.modules and 'analyzer.formats.keras_h5' in sys.modules\n"
        f"assert type(first).__name__ == 'Report', first\n"
        "print('warm')\n"
        "from analyzer.isolate import preload\n"
        "assert 'onnx' not in sys.modules\n"
        "preload(['m.onnx'])  # by suffix, before any child: nothing read\n"
        "assert 'onnx' in sys.modules and 'onnx.shape_inference' in sys.modules\n"
        "print('preloaded')\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0 and "preloaded" in proc.stdout, proc.stderr[-2000:]


def test_isolate_default(monkeypatch) -> None:
    monkeypatch.delenv("MEMSCAN_DEBUG", raising=False)
    assert isolate_by_default(1) and isolate_by_default(2)
    monkeypatch.setenv("MEMSCAN_DEBUG", "1")  # tracebacks wanted: run in-process
    assert not isolate_by_default(1)


def test_cpu_limit_stops_a_spinning_child(monkeypatch) -> None:
    monkeypatch.setattr(analysis, "analyse", crashing("hang"))
    err = analyse_isolated(SEQ, cpu_limit=1, timeout=30)
    assert isinstance(err, IsolatedFailure) and err.reason == "timeout", err
    assert "1 s of CPU" in str(err)
