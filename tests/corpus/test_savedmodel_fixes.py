"""Issue #12 item 3 on SavedModels built the way the issue's third-party files were made
(fixtures/corpus/make_savedmodels.py), against TensorFlow's own run of each signature
(fixtures/corpus/record_savedmodels.py, golden under fixtures/corpus/savedmodels/golden/).

Each fix's test was red on main before the fix (docs/corpus.md says how). One analysis per
file and input, shared by the tests (TensorFlow's import and each trace cost seconds)."""
from __future__ import annotations

import ast
import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from analyzer.analysis import analyse_graph, read
from analyzer.inputs import resolve_inputs
from analyzer.shapes.infer import infer

ROOT = Path(__file__).resolve().parent.parent.parent
SAVED = ROOT / "fixtures" / "corpus" / "savedmodels"
BATCH = {"stored": 1, "second": 3}  # record_savedmodels.BATCHES

# Installed or not, without importing it here: a module-level import would load TensorFlow
# into every test worker at collection (tests/test_suite_speed.py); the tests import it.
if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("needs tensorflow (the test extra)", allow_module_level=True)


def golden(name: str) -> dict[str, Any]:
    return json.loads((SAVED / "golden" / f"{name}.json").read_text())


def analysed(path: Path, batch: int) -> tuple[Any, Any]:
    """(report, inference) of the SavedModel at ``path`` at ``batch``, as the CLI reads it."""
    graph = read(str(path))
    report = analyse_graph(graph, str(path), [], batch)
    inference = infer(graph, resolve_inputs(graph, [], batch, path=str(path)))
    return report, inference


_CACHE: dict[tuple[str, str], tuple[Any, Any]] = {}


@pytest.fixture(scope="module")
def analysis() -> Any:
    def get(name: str, point: str = "stored") -> tuple[Any, Any]:
        if (name, point) not in _CACHE:
            _CACHE[(name, point)] = analysed(SAVED / name, BATCH[point])
        return _CACHE[(name, point)]
    return get


def outputs_by_key(inference: Any) -> dict[str, list[int]]:
    """The signature outputs' shapes by the graph's output order (sorted keys)."""
    return {tid: list(inference.tensors.get(tid) or ()) for tid in inference.graph.outputs}


def signature_outputs(truth: dict[str, Any]) -> list[list[int]]:
    return [truth["outputs"][k] for k in sorted(truth["outputs"])]


def unshaped_rows(report: Any) -> list[str]:
    return [r.name for r in report.layers
            if not r.output_shapes or any(s is None or None in s for s in r.output_shapes)]


# ---- (i) node attributes naming nodes outside the rebuilt graph ---------------------------

def test_colocation_attributes_do_not_break_shaping(analysis: Any) -> None:
    """The subclassed model's embedding lookups carry ``_class: loc:@...``; on main each was an
    error finding "expects to be colocated with unknown node" and its row unshaped."""
    report, _ = analysis("keras_subclassed")
    assert not [f for f in report.findings if "colocated" in f.message]
    rows = {r.name: r for r in report.layers}
    assert rows["word_embedding"].output_shapes == [[1, 10, 8]]
    assert rows["char_embedding"].output_shapes == [[1, 10, 4]]


# ---- (iv) a Keras subclassed SavedModel has every row shaped ------------------------------

@pytest.mark.parametrize("point", ["stored", "second"])
def test_subclassed_model_every_row_shaped(analysis: Any, point: str) -> None:
    """Embedding + Bidirectional GRU, 3 inputs: every row shaped (main: the embedding lookups,
    the GRU's While loops and the TensorListStacks after them unknown), output = TF's run."""
    report, inference = analysis("keras_subclassed", point)
    truth = golden("keras_subclassed")["points"][point]
    assert unshaped_rows(report) == []
    assert list(outputs_by_key(inference).values()) == signature_outputs(truth)
    assert not [f for f in report.findings if f.code in ("tf-unshaped-op", "incomplete-shapes")]
    rows = {r.name: r for r in report.layers}
    # The GRU returns every step: its loop's TensorList is stacked at its run-time length (10).
    assert rows["TensorArrayV2Stack"].output_shapes == [[10, BATCH[point], 6]]


# ---- (ii) shapes through while loops -------------------------------------------------------

@pytest.mark.parametrize("point", ["stored", "second"])
def test_estimator_export_with_a_while_loop_is_shaped(analysis: Any, point: str) -> None:
    """String input (serialized tf.Example), parse_example, a tf.while_loop: main left the
    loop and the 6 rows after it unknown; now every row has TensorFlow's run's shapes."""
    report, inference = analysis("estimator_while", point)
    truth = golden("estimator_while")["points"][point]
    assert unshaped_rows(report) == []
    assert list(outputs_by_key(inference).values()) == signature_outputs(truth)
    rows = {r.name: r for r in report.layers}
    assert rows["preprocess"].output_shapes == [[BATCH[point], 16]]
    assert not [f for f in report.findings if f.code == "signature-shapes"]  # the engine did it


# ---- (iii) the signature's stated shapes fill what the engine cannot ------------------------

def test_signature_states_what_tensorflow_cannot_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the loop fix off (TF's own While shape function: batch unknown), the outputs still
    get the signature's stated (None, 54) with the input's batch, and say so."""
    from analyzer.formats.savedmodel_graph import Trace

    monkeypatch.setattr(Trace, "_loop_node", lambda self, node, *a: node)
    report, inference = analysed(SAVED / "estimator_while", 3)
    truth = golden("estimator_while")["points"]["second"]
    assert list(outputs_by_key(inference).values()) == signature_outputs(truth)
    found = [f for f in report.findings if f.code == "signature-shapes"]
    assert len(found) == 1 and found[0].severity.value == "info"
    assert "preprocess" in unshaped_rows(report)  # the rows before stay honest


def test_signature_disagreeing_with_tensorflow_is_a_finding(tmp_path: Path) -> None:
    """A signature that states (None, 50) for an output TensorFlow shapes (1, 54): the engine's
    shape stands and a signature-disagree warning names both."""
    from tensorflow.core.protobuf import saved_model_pb2

    copy = tmp_path / "edited"
    shutil.copytree(SAVED / "estimator_while", copy)
    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((copy / "saved_model.pb").read_bytes())
    info = sm.meta_graphs[0].signature_def["serving_default"].outputs["logits"]
    info.tensor_shape.dim[1].size = 50
    (copy / "saved_model.pb").write_bytes(sm.SerializeToString())
    report, inference = analysed(copy, 1)
    found = [f for f in report.findings if f.code == "signature-disagree"]
    assert len(found) == 1 and "logits" in found[0].message
    assert sorted(outputs_by_key(inference).values()) == [[1, 1], [1, 54], [1, 54]]


# ---- (v) non-float variables: int64 global_step is index data ------------------------------

def test_global_step_is_index_data_not_a_param(analysis: Any) -> None:
    """The estimator's checkpoint holds an int64 global_step: by docs/corpus.md's definition it
    is index data (8 bytes), not a param; the float variables are the params."""
    report, _ = analysis("estimator_while")
    variables = golden("estimator_while")["variables"]
    assert [v["key"] for v in variables if v["dtype"] == "int64"] == ["global_step"]
    floats = sum(v["elements"] for v in variables if v["dtype"] == "float32")
    assert report.totals.params == report.totals.stored_params == floats == 2_326
    assert report.totals.index_data_bytes == 8


# ---- coverage: a TF1 simple_save export -----------------------------------------------------

@pytest.mark.parametrize("point", ["stored", "second"])
def test_tf1_simple_save(analysis: Any, point: str) -> None:
    report, inference = analysis("tf1_simple_save", point)
    truth = golden("tf1_simple_save")["points"][point]
    assert unshaped_rows(report) == []
    assert list(outputs_by_key(inference).values()) == signature_outputs(truth)
    variables = golden("tf1_simple_save")["variables"]
    assert report.totals.params == sum(v["elements"] for v in variables) == 15_762


def test_recorder_never_imports_memscan() -> None:
    source = ROOT / "fixtures" / "corpus" / "record_savedmodels.py"
    tree = ast.parse(source.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n.split(".")[0] == "analyzer"]


def test_fixtures_stay_small() -> None:
    sizes = {d.name: sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
             for d in SAVED.iterdir() if d.is_dir() and d.name != "golden"}
    assert set(sizes) == {"estimator_while", "tf1_simple_save", "keras_subclassed"}
    assert max(sizes.values()) < 2 * 1024 * 1024, sizes
