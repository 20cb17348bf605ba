"""ONNX element types are read as stored: a float16 model's weights and activations are 2
bytes an element (and bfloat16's), float64's 8, never the float32 default. The sizes are
onnx's own (numpy itemsize of the stored arrays), not memscan's table."""
from __future__ import annotations

import math

import pytest

onnx = pytest.importorskip("onnx")

import numpy as np  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from analyzer.analysis import analyse  # noqa: E402

CASES = [("float16", TensorProto.FLOAT16, np.float16), ("float64", TensorProto.DOUBLE, np.float64),
         ("float32", TensorProto.FLOAT, np.float32)]


def _matmul_model(path, elem: int, np_dtype) -> tuple[int, int]:
    """x[2,8] @ w[8,16] -> y[2,16] (+ b[16]) in one element type; (weight elements, itemsize)."""
    w = numpy_helper.from_array(np.ones((8, 16), dtype=np_dtype), "w")
    b = numpy_helper.from_array(np.ones(16, dtype=np_dtype), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
             helper.make_node("Add", ["m", "b"], ["y"], name="add")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", elem, [2, 8])],
                          [helper.make_tensor_value_info("y", elem, [2, 16])], [w, b])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return 8 * 16 + 16, np.dtype(np_dtype).itemsize


@pytest.mark.parametrize("name, elem, np_dtype", CASES, ids=[c[0] for c in CASES])
def test_element_type_sets_the_bytes(tmp_path, name, elem, np_dtype) -> None:
    path = tmp_path / f"{name}.onnx"
    n_weights, size = _matmul_model(path, elem, np_dtype)
    report = analyse(str(path))
    rows = {r.name: r for r in report.layers}
    assert report.totals.params == n_weights
    assert report.totals.param_bytes == n_weights * size
    for row_name in ("mm", "add"):
        row = rows[row_name]
        assert row.dtype == name
        assert row.activation_bytes == math.prod((2, 16)) * size, row
