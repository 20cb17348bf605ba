"""memscan on the third-party corpus, against the frameworks' own ground truth.

Every file of tests/corpus/manifest.toml (made by other projects, fetched from their wheels) is
analysed at its stored input and at a second one, and compared with the golden JSON that
tests/corpus/record.py recorded from Keras / onnxruntime / TensorFlow (never from memscan):
every Keras layer's output shapes and params, every ONNX node output's shape, a SavedModel's
signature outputs. What does not match yet is listed in EXPECTED_FAILURES with its reason
(docs/corpus.md too); such a case is a strict xfail, so it fails the day it starts passing.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fetch  # noqa: E402

from analyzer.analysis import analyse_graph, read  # noqa: E402
from analyzer.inputs import InputArg, resolve_inputs  # noqa: E402
from analyzer.shapes.infer import infer  # noqa: E402

GOLDEN = HERE / "golden"
ENTRIES = {e["id"]: e for e in fetch.manifest()}

#: (file id, point) -> why memscan does not match the ground truth there yet.
_SR = ("If on the value of the input `sr` (16 kHz or 8 kHz branch), which no shape tells: "
       "at 512 samples the 16 kHz branch gives [1, 1] and the 8 kHz branch cannot run (its "
       "LSTM gets a rank-5 input; onnxruntime fails the same way with sr=8000), so the "
       "branches disagree and the outputs stay unshaped, with a value-dependent-branch "
       "finding (at 256 samples both branches give the same shapes: shaped)")
EXPECTED_FAILURES: dict[tuple[str, str], str] = {
    ("silero-vad", "stored"): _SR,
}

ANALYSED = ("keras-h5", "keras-zip", "onnx", "savedmodel")


def corpus_file(e: dict[str, Any]) -> Path:
    """The fetched file; a failed download skips with the reason, or fails under CI=true."""
    try:
        return fetch.fetch(e)
    except fetch.Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have the corpus: {exc}")
        pytest.skip(str(exc))


def golden(file_id: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{file_id}.json").read_text())


def _cases() -> list[Any]:
    cases = []
    for fid, e in ENTRIES.items():
        if e["format"] not in ANALYSED:
            continue
        for point in ("stored", "second"):
            if point == "second" and "second" not in e:
                continue
            reason = EXPECTED_FAILURES.get((fid, point))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(fid, point, marks=marks, id=f"{fid}@{point}"))
    return cases


def input_args(e: dict[str, Any], point: str) -> tuple[list[InputArg], int | None]:
    """memscan's inputs for a manifest point: (--input values, --batch)."""
    value = e.get(point)
    if isinstance(value, dict):
        return [], value.get("batch")
    if e["format"] == "onnx":
        return [InputArg(name, tuple(shape)) for name, shape, *_ in value], None
    return [InputArg(None, tuple(shape)) for shape in value], None


def analysed(e: dict[str, Any], point: str) -> tuple[Any, Any]:
    path = corpus_file(e)
    graph = read(str(path))  # the CLI's own entry (a SavedModel may fall back to its graph)
    args, batch = input_args(e, point)
    report = analyse_graph(graph, str(path), args, batch)
    inference = infer(graph, resolve_inputs(graph, args, batch, path=str(path)))
    return report, inference


def onnx_mismatches(truth: dict, inference: Any) -> list[str]:
    out = []
    for name, shape in truth["tensors"].items():
        if not isinstance(shape, list):
            continue  # a sequence or map output (ZipMap): no tensor shape
        got = inference.tensors.get(name)
        if got is None or list(got) != shape:
            out.append(f"{name}: memscan {got} onnxruntime {shape}")
    return out


def keras_mismatches(truth: dict, report: Any) -> list[str]:
    batch = truth["batch"]
    rows = {r.name: r for r in report.layers}
    out = []
    for layer in truth["layers"]:
        row = rows.get(layer["name"])
        want = [[batch if d is None else d for d in s] for s in layer["output_shapes"]]
        if row is None:
            out.append(f"{layer['name']}: no row")
            continue
        if [list(s) for s in row.output_shapes] != want:
            out.append(f"{layer['name']}: shapes {row.output_shapes} != {want}")
        if row.params != layer["params"]:
            out.append(f"{layer['name']}: params {row.params} != {layer['params']}")
    if report.totals.params != truth["params"]:
        out.append(f"total params {report.totals.params} != {truth['params']}")
    return out


def savedmodel_mismatches(truth: dict, report: Any, inference: Any) -> list[str]:
    got = sorted(list(inference.tensors.get(o) or ()) for o in inference.graph.outputs)
    want = sorted(truth["outputs"].values())
    return [] if got == want else [f"outputs {got} != signature run {want}"]


@pytest.mark.parametrize("file_id,point", _cases())
def test_matches_ground_truth(file_id: str, point: str) -> None:
    e = ENTRIES[file_id]
    truth = golden(file_id)["points"][point]
    assert "refused" not in truth, truth["refused"]
    report, inference = analysed(e, point)
    if e["format"] == "onnx":
        bad = onnx_mismatches(truth, inference)
    elif e["format"] == "savedmodel":
        bad = savedmodel_mismatches(truth, report, inference)
    else:
        bad = keras_mismatches(truth, report)
    assert not bad, f"{len(bad)} differences, first: " + "; ".join(bad[:8])


def test_every_file_has_golden_truth() -> None:
    """The recorder ran for every manifest entry, at every point the manifest names."""
    for fid, e in ENTRIES.items():
        data = golden(fid)
        points = {"stored"} | ({"second"} if "second" in e else set())
        if e["format"] == "keras-weights":
            assert data["weights"]["stored_elements"] > 0, fid
            continue
        assert points <= set(data["points"]), fid
    assert set(p.stem for p in GOLDEN.glob("*.json")) == set(ENTRIES)


def test_corpus_size() -> None:
    """Issue #12: at least 30 files from at least 15 projects."""
    assert len(ENTRIES) >= 30
    assert len({e["package"] for e in ENTRIES.values()}) >= 15


def test_expected_failures_name_real_cases() -> None:
    ids = {(c.values[0], c.values[1]) for c in _cases()}
    assert set(EXPECTED_FAILURES) <= ids


def test_recorder_never_imports_memscan() -> None:
    """The ground truth must not come from the code under test."""
    fixtures = HERE.parent.parent / "fixtures"
    for source in (HERE / "record.py", HERE / "fetch.py", fixtures / "record_oracles.py",
                   fixtures / "models.py"):
        tree = ast.parse(source.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.split(".")[0] == "analyzer"], source


NO_TF = r"""
import sys, json
from analyzer.analysis import analyse
for path in json.loads(sys.argv[1]):
    try:
        analyse(path)
    except Exception as exc:  # a shape error is not what this test is about
        pass
tf = ('tensorflow', 'keras', 'tf_keras')
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in tf)))
"""


def test_no_artifact_imports_tensorflow() -> None:
    """Only graph-only SavedModels may import TensorFlow; every other corpus file is read
    without it (analysed here in one process, TF's modules listed at the end)."""
    paths = [str(corpus_file(e)) for e in ENTRIES.values()
             if e["format"] in ("keras-h5", "keras-zip", "keras-weights", "onnx")]
    proc = subprocess.run([sys.executable, "-c", NO_TF, json.dumps(paths)],
                          capture_output=True, text=True, timeout=600,
                          cwd=str(HERE.parent.parent))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []



def test_docs_list_every_file_and_exception() -> None:
    """docs/corpus.md names each file, and each expected failure as one."""
    docs = (HERE.parent.parent / "docs" / "corpus.md").read_text()
    rows = {line.split("`")[1]: line for line in docs.splitlines() if line.startswith("| `")}
    assert set(rows) == set(ENTRIES)
    for fid, _ in EXPECTED_FAILURES:
        assert "expected failure" in rows[fid], fid
    for fid, line in rows.items():
        if "expected failure" in line:
            assert any(f == fid for f, _ in EXPECTED_FAILURES), fid


@pytest.mark.parametrize("file_id", [fid for fid, e in ENTRIES.items()
                                     if e["format"] == "keras-weights"])
def test_weights_only_files_count_every_stored_tensor(file_id: str) -> None:
    """A weights-only file (Keras 2 .h5 or Keras 3 .weights.h5): params equal the elements
    h5py finds outside optimizer/ (the recorder's count)."""
    facts = golden(file_id)["weights"]
    graph = read(str(corpus_file(ENTRIES[file_id])))
    report = analyse_graph(graph, file_id, [], None)
    assert report.totals.params == facts["stored_elements"] - facts["optimizer_elements"]
