"""Keras itself, live: rebuild a few fixtures at a new input without allocating weights and
check that (a) the recorded golden oracles are what Keras says today and (b) memscan agrees.

Runs Keras in a child process so TensorFlow never loads into the test process.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from analyzer.analysis import analyse
from analyzer.inputs import InputArg

from conftest import FIXTURES, ORACLES, ROOT
from test_oracle_keras import compare

# Whether Keras is installed, without importing it (importorskip would load Keras and
# TensorFlow into every test worker at collection: seconds of CPU and 540 MiB each).
if importlib.util.find_spec("keras") is None:
    pytest.skip("needs keras (the test extra)", allow_module_level=True)

LIVE = """
import json, sys
sys.path.insert(0, %(fixtures)r)
from record_oracles import load_config, with_inputs, rebuild
cases = json.loads(sys.argv[1])
out = []
for framework, name, inputs in cases:
    cfg = load_config(f"{%(fixtures)r}/{framework}/{name}.h5")
    out.append(rebuild(framework, with_inputs(cfg, [tuple(s) for s in inputs])))
print("RESULT" + json.dumps(out))
"""

CASES = [
    ("keras3", "vgg16", [[1024, 1024, 3]]),
    ("tf_keras", "vgg16", [[1024, 1024, 3]]),
    ("keras3", "layer_mix", [[64, 48, 3]]),
    ("tf_keras", "multi_io", [[32], [32]]),
]


@pytest.fixture(scope="module")
def live_results() -> list[dict]:
    proc = subprocess.run([sys.executable, "-c", LIVE % {"fixtures": str(FIXTURES)},
                           json.dumps(CASES)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                                                      "KERAS_BACKEND": "tensorflow"})
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT")), None)
    assert line, proc.stderr[-2000:]
    return json.loads(line[len("RESULT"):])


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c[0]}/{c[1]}" for c in CASES])
def test_live_keras_equals_recording_and_memscan(index: int, live_results: list[dict]) -> None:
    framework, name, inputs = CASES[index]
    live = live_results[index]
    stem = f"{name}@" + "+".join("x".join(map(str, s)) for s in inputs)
    recorded = json.loads((ORACLES / framework / f"{stem}.json").read_text())
    assert live["layers"] == recorded["layers"] and live["params"] == recorded["params"]
    report = analyse(str(FIXTURES / framework / f"{name}.h5"),
                     inputs=[InputArg(None, tuple(s)) for s in inputs])
    assert compare(report, live) == []
    if name == "vgg16":
        assert live["params"] == 2_183_080_744  # Keras's own count at 1024×1024
