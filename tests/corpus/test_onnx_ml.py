"""Classic-ML ONNX (ai.onnx.ml only), issue #12 item 5: every output shape equals what
onnxruntime produces, and the coefficients a node holds in attributes are params.

The corpus file (onnxruntime's logreg_iris.onnx: LinearClassifier, Normalizer, ZipMap) is
checked in test_corpus.py and below; the other ops are built here the way skl2onnx writes
them (one node each, ai.onnx.ml opset 3, no ai.onnx opset) and run by onnxruntime."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_corpus import ENTRIES, corpus_file, golden  # noqa: E402

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

from analyzer.analysis import analyse, read  # noqa: E402
from analyzer.inputs import InputArg  # noqa: E402
from analyzer.shapes.infer import infer  # noqa: E402
from analyzer.inputs import resolve_inputs  # noqa: E402

N, C = 5, 4  # rows, features
TREE = dict(nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 0, 0],
            nodes_values=[0.5, 0.0, 0.0], nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"],
            nodes_truenodeids=[1, 0, 0], nodes_falsenodeids=[2, 0, 0])

#: op -> (attributes, outputs (name, elem type), float attribute elements that are params)
MODELS = {
    "LinearRegressor": (dict(coefficients=[0.1] * (2 * C), intercepts=[0.0, 1.0], targets=2),
                        [("y", TensorProto.FLOAT)], 2 * C + 2),
    "LinearClassifier-binary": (dict(coefficients=[0.1] * C, intercepts=[0.0],
                                     classlabels_ints=[0, 1]),
                                [("label", TensorProto.INT64), ("scores", TensorProto.FLOAT)],
                                C + 1),
    "Scaler": (dict(offset=[0.5] * C, scale=[2.0] * C), [("y", TensorProto.FLOAT)], 2 * C),
    "Normalizer": (dict(norm="L2"), [("y", TensorProto.FLOAT)], 0),
    "SVMRegressor": (dict(coefficients=[1.0, -1.0], support_vectors=[0.1] * (2 * C),
                          rho=[0.0], n_supports=2, kernel_type="LINEAR",
                          kernel_params=[0.1, 0.0, 3.0]),
                     [("y", TensorProto.FLOAT)], 2 + 2 * C + 1),
    "SVMClassifier": (dict(coefficients=[1.0, -1.0], support_vectors=[0.1] * (2 * C),
                           rho=[0.0], vectors_per_class=[1, 1], classlabels_ints=[3, 7],
                           kernel_type="LINEAR", kernel_params=[0.1, 0.0, 3.0]),
                      [("label", TensorProto.INT64), ("scores", TensorProto.FLOAT)],
                      2 + 2 * C + 1),
    "TreeEnsembleRegressor": (dict(**TREE, n_targets=3, target_ids=[0, 1, 2, 0],
                                   target_nodeids=[1, 1, 2, 2], target_treeids=[0] * 4,
                                   target_weights=[1.0, 2.0, 3.0, 4.0]),
                              [("y", TensorProto.FLOAT)], 3 + 4),
    "TreeEnsembleClassifier": (dict(**TREE, class_ids=[0, 1, 2], class_nodeids=[1, 2, 2],
                                    class_treeids=[0] * 3, class_weights=[1.0, 0.5, 0.5],
                                    classlabels_int64s=[10, 20, 30]),
                               [("label", TensorProto.INT64), ("scores", TensorProto.FLOAT)],
                               3 + 3),
}


def _model(op: str, tmp_path: Path) -> Path:
    attrs, outputs, _ = MODELS[op]
    node = helper.make_node(op.split("-")[0], ["x"], [n for n, _ in outputs],
                            domain="ai.onnx.ml", **attrs)
    graph = helper.make_graph(
        [node], op, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", C])],
        [helper.make_tensor_value_info(n, t, None) for n, t in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("ai.onnx.ml", 3)],
                              ir_version=8, producer_name="test_onnx_ml")
    path = tmp_path / f"{op}.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("op", sorted(MODELS))
def test_ml_op_shapes_and_attribute_params(op: str, tmp_path: Path) -> None:
    path = _model(op, tmp_path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    values = sess.run(None, {"x": np.ones((N, C), np.float32)})
    expected = {o.name: tuple(v.shape) for o, v in zip(sess.get_outputs(), values)}
    graph = read(str(path))
    shapes = resolve_inputs(graph, [InputArg("x", (N, C))], None)
    got = {name: infer(graph, shapes).tensors.get(name) for name in expected}
    assert got == expected
    report = analyse(str(path), [InputArg("x", (N, C))])
    assert report.totals.params == MODELS[op][2]
    assert report.totals.layers_with_unknown_shapes == 0


def test_logreg_iris_attribute_coefficients_are_params() -> None:
    """0 params before item 5; now the LinearClassifier's 12 coefficients + 3 intercepts."""
    e = ENTRIES["ort-logreg-iris"]
    facts = golden(e["id"])["weights"]["ml_float_attribute_elements"]
    report = analyse(str(corpus_file(e)))
    assert report.totals.params == sum(facts.values()) == 15
    assert not [f for f in report.findings if f.code == "unshaped-tensors"]
