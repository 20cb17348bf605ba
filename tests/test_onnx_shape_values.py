"""Shapes through exporter shape arithmetic (issue 13 item 3): the chains tf2onnx and torch
write for a Reshape/Expand target are followed to plain integers once the input is stated."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from analyzer.analysis import analyse  # noqa: E402
from analyzer.inputs import InputArg  # noqa: E402
from analyzer.shapes import onnx_values  # noqa: E402


def _i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def tf2onnx_style(path, d=16):
    """x[N,T,d] → MatMul(w) → Reshape to [N, T, 2, d/2] with the target computed the way
    tf2onnx writes it: Shape(w) → Gather → ReduceProd → Concat with Shape(x)[:2]; then
    a mask built by Range/Unsqueeze/Less/Where/Expand over the sequence length and a
    ConstantOfShape; the output is y = Reshape(..) * mask."""
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "T", d])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [numpy_helper.from_array(rng.random((d, d), dtype=np.float32), "w"),
             _i64("axes_last", [1]), _i64("zero", 0), _i64("one", 1), _i64("two", [2]),
             _i64("s0", [0]), _i64("s2", [2]), _i64("ax0", [0]), _i64("minus1", [-1]),
             _i64("half_den", [2])]
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Shape", ["x"], ["xs"]),
        helper.make_node("Slice", ["xs", "s0", "s2", "ax0"], ["nt"]),          # [N, T]
        helper.make_node("Shape", ["w"], ["ws"]),
        helper.make_node("Gather", ["ws", "axes_last"], ["wd"]),               # [d]
        helper.make_node("ReduceProd", ["wd"], ["wprod"], keepdims=1),         # [d]
        helper.make_node("Div", ["wprod", "half_den"], ["half"]),              # [d/2]
        helper.make_node("Concat", ["nt", "two", "half"], ["target"], axis=0),
        helper.make_node("Reshape", ["h", "target"], ["r"]),
        # mask[T] = arange(T) < T (all ones), built by value arithmetic
        helper.make_node("Gather", ["xs", "one"], ["t"], axis=0),              # T (scalar)
        helper.make_node("Range", ["zero", "t", "one"], ["pos"]),              # [T]
        helper.make_node("Less", ["pos", "t"], ["keep"]),
        helper.make_node("Cast", ["keep"], ["keepf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["t", "ax0"], ["t1"]),
        helper.make_node("ConstantOfShape", ["t1"], ["ones"],
                         value=numpy_helper.from_array(np.array([1.0], np.float32))),
        helper.make_node("Where", ["keep", "keepf", "ones"], ["m"]),
        helper.make_node("Reshape", ["m", "mshape_small"], ["m4"]),
        helper.make_node("Expand", ["m4", "target"], ["mask"]),
        helper.make_node("Mul", ["r", "mask"], ["y"]),
    ]
    # the mask as [1, T, 1, 1], the 1s written as a computed Concat (torch style)
    nodes.insert(-2, helper.make_node("Concat", ["one1", "t1", "one1", "one1"], ["mshape_small"],
                                      axis=0))
    inits.append(_i64("one1", [1]))
    g = helper.make_graph(nodes, "tf2onnx_style", [x], [y], inits)
    m = helper.make_model(g, producer_name="memscan-tests",
                          opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, str(path))


@pytest.mark.parametrize("n,t", [(1, 8), (2, 37)])
def test_exporter_shape_arithmetic_shapes_everything(tmp_path, n, t):
    path = tmp_path / "m.onnx"
    tf2onnx_style(path)
    r = analyse(str(path), inputs=[InputArg(None, (n, t, 16))])
    rows = {row.name: row for row in r.layers}
    assert r.totals.complete and r.totals.unshaped_tensors == 0, [
        f.message for f in r.findings if f.code == "unshaped-tensors"]
    out = next(row for row in r.layers if row.type == "Mul")
    assert out.output_shapes == [[n, t, 2, 8]]
    ort = pytest.importorskip("onnxruntime")  # the file runs, and to the same shape
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": np.zeros((n, t, 16), np.float32)})[0]
    assert list(got.shape) == [n, t, 2, 8]
    assert sum(1 for row in rows.values() if row.activation_bytes is None) == 0


def test_values_follow_onnx_semantics():
    x = np.arange(6, dtype=np.int64).reshape(2, 3)
    node = helper.make_node("Slice", ["x", "s", "e", "a", "st"], ["y"])
    vals = [x, np.array([2]), np.array([-2**63]), np.array([1]), np.array([-1])]
    assert onnx_values.RULES["Slice"](node, vals, [None] * 5, 17)[0].tolist() == \
        [[2, 1, 0], [5, 4, 3]]
    div = helper.make_node("Div", ["a", "b"], ["c"])
    assert onnx_values.RULES["Div"](div, [np.array([-7]), np.array([2])], [], 17)[0] \
        .tolist() == [-3]  # ONNX integer Div truncates toward zero
    shape = helper.make_node("Shape", ["x"], ["s"], start=1)
    assert onnx_values.RULES["Shape"](shape, [None], [(4, 5, 6)], 17)[0].tolist() == [5, 6]
