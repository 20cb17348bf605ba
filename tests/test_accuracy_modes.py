"""bench/accuracy.py dispatches ``--modes keras`` and ``--modes training`` to their own
modules (issue 13 items 6, 7; docs/accuracy.md): saved results re-render into the docs
tables through the real script, without TensorFlow, torch or a model."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

MIB = 1024**2


def _render(tmp_path, mode: str, results: list) -> str:
    saved, table = tmp_path / "r.json", tmp_path / "t.md"
    saved.write_text(json.dumps(results))
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "accuracy.py"), "--modes", mode,
                           "--from-json", str(saved), "--markdown", str(table)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return table.read_text()


def test_training_mode_renders_its_table(tmp_path):
    row = {"model": "cnn", "split": "tuning", "input": [2, 64, 64, 3],
           "estimate": {"kept_bytes": 3 * MIB, "step_peak_bytes": 4 * MIB,
                        "training_bytes": 5 * MIB},
           "measured": {"kept_bytes": 4 * MIB, "step_peak_bytes": 8 * MIB,
                        "training_bytes": 10 * MIB},
           "kept_bytes_ratio": 0.75, "step_peak_bytes_ratio": 0.5, "training_bytes_ratio": 0.5}
    text = _render(tmp_path, "training", [row])
    assert ("| tuning | cnn | 2×64×64×3 | 3.00 | 4.00 | 0.750 | 4.00 | 8.00 | 0.500 | 5.00 "
            "| 10.00 | 0.500 |") in text


def test_keras_mode_renders_its_table(tmp_path):
    row = {"model": "VGG16", "input": [1, 96, 96, 3], "ratio": 0.5, "onnx_ratio": 1.0,
           "keras": {"peak_bytes": 2 * MIB, "complete": True}, "measured": {"peak_bytes": 4 * MIB},
           "onnx": {"peak_bytes": 4 * MIB}, "onnx_ops": {"Conv": 13, "Transpose": 1},
           "keras_layers": {"Conv2D": 13, "InputLayer": 1}}
    text = _render(tmp_path, "keras", [row])
    assert "| VGG16 | 1×96×96×3 | 2.00 | 4.00 | 0.500 | 4.00 | 1.000 | 14 (1, 0, 0) | 14 |" in text
