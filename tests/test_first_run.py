"""A new user's first run: ``make demo`` then ``make audit`` must pass with only what
``make demo`` installs (no TensorFlow: that is the savedmodel extra)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def _without_tensorflow(tmp_path: Path) -> dict:
    """An environment where ``import tensorflow`` fails as it does without the extra."""
    blocker = tmp_path / "block" / "tensorflow"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ImportError(\"No module named 'tensorflow' (blocked by the test)\")\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(blocker.parent)
    return env


def test_make_audit_passes_without_tensorflow(tmp_path) -> None:
    venv = Path(sys.executable).parent.parent
    proc = subprocess.run(
        ["make", "-s", "-o", f"{venv}/.installed-run", f"VENV={venv}", "audit"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=_without_tensorflow(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "unusable" not in proc.stdout and "FAILED" not in proc.stdout


def test_the_blocked_savedmodel_names_the_extra(tmp_path) -> None:
    folder = ROOT / "fixtures" / "savedmodel" / "tf1_conv"
    proc = subprocess.run([sys.executable, "-m", "analyzer", str(folder), "--input",
                           "64,64,3"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**_without_tensorflow(tmp_path),
                               "PYTHONPATH": str(tmp_path / "block") + os.pathsep + str(ROOT)})
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "pip install 'memscan[savedmodel]'" in proc.stderr
