"""ONNX If nodes (issue #12): an If whose condition is a shape test is resolved to the branch
that runs; an If on an input's value is shaped where both branches agree, and otherwise left
unshaped with a ``value-dependent-branch`` finding. Oracle: onnxruntime running the model.

The corpus files (silero-vad's three exports) are checked every tensor in test_corpus.py; the
models below are built the way PyTorch and spox write these Ifs, one case each."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from test_corpus import ENTRIES, golden, onnx_mismatches  # noqa: E402

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from analyzer.analysis import analyse, read  # noqa: E402
from analyzer.inputs import InputArg, resolve_inputs  # noqa: E402
from analyzer.shapes.infer import infer  # noqa: E402

X = (1, 4, 8)


def _branch(name: str, nodes: list, out: str) -> object:
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(
        out, TensorProto.FLOAT, None)])


def _if_model(tmp_path: Path, cond_nodes: list, then_nodes: list, then_out: str,
              else_nodes: list, else_out: str) -> Path:
    """x [1, 4, 8] float, sr [] int64 -> If(cond) -> MatMul by a [k, 3] weight -> y."""
    w = numpy_helper.from_array(np.ones((8, 3), np.float32), "w")
    node_if = helper.make_node("If", ["cond"], ["z"],
                               then_branch=_branch("then", then_nodes, then_out),
                               else_branch=_branch("else", else_nodes, else_out))
    graph = helper.make_graph(
        [*cond_nodes, node_if, helper.make_node("MatMul", ["z", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "c", 8]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    path = tmp_path / "if.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _on_sr(value: int) -> list:
    c = numpy_helper.from_array(np.array(value, np.int64))
    return [helper.make_node("Constant", [], ["k"], value=c),
            helper.make_node("Equal", ["sr", "k"], ["cond"])]


def _shape_test(dim: int, equals: int) -> list:
    """cond = Shape(x)[dim] == equals, as PyTorch writes a size test."""
    idx = numpy_helper.from_array(np.array(dim, np.int64))
    val = numpy_helper.from_array(np.array(equals, np.int64))
    return [helper.make_node("Shape", ["x"], ["s"]),
            helper.make_node("Constant", [], ["i"], value=idx),
            helper.make_node("Gather", ["s", "i"], ["d"]),
            helper.make_node("Constant", [], ["e"], value=val),
            helper.make_node("Equal", ["d", "e"], ["cond"])]


def _ort_shape(path: Path, sr: int, x=X) -> list:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return list(sess.run(None, {"x": np.ones(x, np.float32),
                                "sr": np.array(sr, np.int64)})[0].shape)


def _memscan(path: Path, x=X):
    graph = read(str(path))
    args = [InputArg("x", x), InputArg("sr", ())]
    return infer(graph, resolve_inputs(graph, args, None, path=str(path)))


def test_value_if_whose_branches_agree_is_shaped(tmp_path: Path) -> None:
    """If(sr == 16000): Relu(x) or Sigmoid(x), both [1, 4, 8]: y is [1, 4, 3] whichever runs
    (onnxruntime at both values); unshaped before."""
    path = _if_model(tmp_path, _on_sr(16000), [helper.make_node("Relu", ["x"], ["t"])], "t",
                     [helper.make_node("Sigmoid", ["x"], ["u"])], "u")
    got = _memscan(path).tensors
    assert list(got["y"]) == _ort_shape(path, 16000) == _ort_shape(path, 8000) == [1, 4, 3]
    assert list(got["z"]) == [1, 4, 8]


def test_value_if_whose_branches_differ_is_unshaped_with_its_reason(tmp_path: Path) -> None:
    """If(sr == 16000): x or x twice along axis 1: [1, 4, 8] or [1, 8, 8] depending on sr's
    value, which no shape tells: left unshaped, and the finding names the If and why."""
    cat = helper.make_node("Concat", ["x", "x"], ["u"], axis=1)
    path = _if_model(tmp_path, _on_sr(16000), [helper.make_node("Relu", ["x"], ["t"])], "t",
                     [cat], "u")
    assert _ort_shape(path, 16000) != _ort_shape(path, 8000)
    inference = _memscan(path)
    assert inference.tensors.get("y") is None and inference.tensors.get("z") is None
    report = analyse(str(path), [InputArg("x", X)])
    found = [f for f in report.findings if f.code == "value-dependent-branch"]
    assert len(found) == 1 and "condition cond depends on an input's value" in found[0].message
    assert "[1, 4, 8]" in found[0].message and "[1, 8, 8]" in found[0].message


@pytest.mark.parametrize("x", [(1, 4, 8), (1, 6, 8)])
def test_if_on_a_shape_test_takes_the_branch_that_runs(tmp_path: Path, x: tuple) -> None:
    """If(Shape(x)[1] == 4): x or Concat(x, x): the condition is known once the input shape
    is, so y is exactly what onnxruntime gives, branch by branch."""
    cat = helper.make_node("Concat", ["x", "x"], ["u"], axis=1)
    path = _if_model(tmp_path, _shape_test(1, 4), [helper.make_node("Relu", ["x"], ["t"])],
                     "t", [cat], "u")
    assert list(_memscan(path, x).tensors["y"]) == _ort_shape(path, 0, x)


@pytest.mark.parametrize("file_id", ["silero-vad-op15", "silero-vad-half"])
def test_silero_exports_with_shape_test_ifs_are_shaped(file_id: str) -> None:
    """PyTorch's silero-vad exports: every If tests a size (Shape -> Gather -> Equal); every
    tensor equals onnxruntime's (before: the Ifs and all after them unshaped)."""
    from test_fixes import _inferred
    assert onnx_mismatches(golden(file_id)["points"]["stored"], _inferred(file_id)) == []


def test_silero_spox_if_on_sr_agrees_at_256_samples_only() -> None:
    """spox silero-vad: its top If tests sr's value. At 256 samples both branches give
    [3, 1] (shaped); at 512 the 8 kHz branch cannot run, so the outputs stay unshaped with
    the value-dependent-branch finding (listed as an expected failure in docs/corpus.md)."""
    from test_fixes import _inferred
    assert "second" in ENTRIES["silero-vad"]
    assert onnx_mismatches(golden("silero-vad")["points"]["second"],
                           _inferred("silero-vad", "second")) == []
    stored = _inferred("silero-vad")
    assert stored.tensors.get("output") is None
    assert [f for f in stored.findings if f.code == "value-dependent-branch"]


# ---- the param definition inside subgraphs ------------------------------------------------

def _index_bytes_in_subgraphs(model) -> int:
    """Bytes of int64/int32/bool initializers and Constant values inside every subgraph,
    counted with onnx (the oracle for index data there)."""
    total = 0

    def walk(g, top: bool) -> None:
        nonlocal total
        if not top:
            tensors = list(g.initializer) + [a.t for n in g.node if n.op_type == "Constant"
                                             for a in n.attribute
                                             if a.name == "value" and a.HasField("t")]
            total += sum(numpy_helper.to_array(t).nbytes for t in tensors
                         if t.data_type in (TensorProto.INT64, TensorProto.INT32,
                                            TensorProto.BOOL))
        for n in g.node:
            for a in n.attribute:
                for sg in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                    walk(sg, False)
    walk(model.graph, True)
    return total


def test_index_data_inside_subgraphs_is_not_params(tmp_path: Path) -> None:
    """An If branch that stores a float weight and an int64 Reshape target: the weight is a
    param, the target is index data, as at the top level (before: the int64 initializer
    counted as 2 params, and index Constants inside branches counted nowhere)."""
    target = numpy_helper.from_array(np.array([1, 32], np.int64), "target")
    scale = numpy_helper.from_array(np.full((32,), 2.0, np.float32), "scale")
    then = helper.make_graph([helper.make_node("Reshape", ["x", "target"], ["r"]),
                              helper.make_node("Mul", ["r", "scale"], ["t"])],
                             "then", [], [helper.make_tensor_value_info(
                                 "t", TensorProto.FLOAT, None)], [target, scale])
    axes = numpy_helper.from_array(np.array([0], np.int64))
    other = helper.make_graph([helper.make_node("Constant", [], ["ax"], value=axes),
                               helper.make_node("Flatten", ["x"], ["f"], axis=0),
                               helper.make_node("Squeeze", ["f", "ax"], ["u0"]),
                               helper.make_node("Unsqueeze", ["u0", "ax"], ["u"])],
                              "else", [], [helper.make_tensor_value_info(
                                  "u", TensorProto.FLOAT, None)])
    graph = helper.make_graph(
        [*_on_sr(16000), helper.make_node("If", ["cond"], ["y"], then_branch=then,
                                          else_branch=other)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "if_params.onnx"
    onnx.save(model, str(path))
    assert _ort_shape(path, 16000) == _ort_shape(path, 8000) == [1, 32]
    t = analyse(str(path), [InputArg("x", X)]).totals
    assert t.params == 32
    # top level: the Constant k (8 B); subgraphs: target (16 B) + axes (8 B)
    assert _index_bytes_in_subgraphs(model) == 24
    assert t.index_data_bytes == 8 + 24


def test_silero_index_constants_inside_branches_are_index_data() -> None:
    """spox silero-vad stores 310 int64 Constant elements inside its If branches: index data
    (2,480 B) besides the top-level Constant's 8 B; params stay its float tensors."""
    from test_corpus import corpus_file
    path = corpus_file(ENTRIES["silero-vad"])
    inside = _index_bytes_in_subgraphs(onnx.load(str(path)))
    assert inside == 2_480
    t = analyse(str(path), [InputArg("input", (1, 256)), InputArg("state", (2, 1, 128))]).totals
    assert t.index_data_bytes == 8 + inside
    assert t.params == t.stored_params == 545_286


# ---- Loop: scan outputs of a loop that runs exactly its trip count -------------------------

def _loop_model(tmp_path: Path, cond_node) -> Path:
    """x [b, 4] -> Loop(M=3, cond=True, acc=x){acc + x; scan Relu(acc)} -> Relu -> y, with
    the body typed as exporters write it; ``cond_node`` makes the body's next condition."""
    body = helper.make_graph(
        [cond_node, helper.make_node("Add", ["acc_in", "x"], ["acc_out"]),
         helper.make_node("Relu", ["acc_out"], ["scan_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, ["b", 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("scan_out", TensorProto.FLOAT, None)])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["M", "C", "x"], ["acc", "scans"], body=body),
         helper.make_node("Relu", ["scans"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array(3, np.int64), "M"),
         numpy_helper.from_array(np.array(True), "C")])
    path = tmp_path / "loop.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _loop_inferred(path: Path):
    graph = read(str(path))
    return infer(graph, resolve_inputs(graph, [InputArg("x", (2, 4))], None, path=str(path)))


def test_for_loop_scan_outputs_take_the_trip_count(tmp_path: Path) -> None:
    """A for-loop (the body hands its condition on, as PyTorch writes one) with a constant
    trip count 3: its scan output is [3, 2, 4], as onnxruntime gives (unshaped before)."""
    path = _loop_model(tmp_path, helper.make_node("Identity", ["cond_in"], ["cond_out"]))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = list(sess.run(None, {"x": np.ones((2, 4), np.float32)})[0].shape)
    got = _loop_inferred(path).tensors
    assert list(got["scans"]) == list(got["y"]) == want == [3, 2, 4]


def test_while_loop_scan_outputs_stay_unshaped(tmp_path: Path) -> None:
    """A body that computes its own condition may stop before the trip count: the scan
    output's length is a run-time value, so it is left unshaped, never guessed."""
    path = _loop_model(tmp_path, helper.make_node("ReduceMin", ["acc_in"], ["m0"], keepdims=0))
    model = onnx.load(str(path))
    body = model.graph.node[0].attribute[0].g
    body.node.insert(1, helper.make_node("Constant", [], ["lim"], value=numpy_helper.from_array(
        np.array(2.5, np.float32))))
    body.node.insert(2, helper.make_node("Less", ["m0", "lim"], ["cond_out"]))
    onnx.save(model, str(path))
    assert _loop_inferred(path).tensors.get("scans") is None
