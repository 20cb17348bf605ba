"""No silent defaults: an unknown dtype is a finding naming the tensor (its bytes left out,
the figures a lower bound), and an engine shape overriding a different rule shape is a finding."""
from __future__ import annotations

from analyzer.analysis import analyse_graph
from analyzer.ir import Graph, Node, TensorSpec, WeightSpec, dtype_bytes
from analyzer.shapes.infer import _disagreement_finding, _infer_node


def _dense_graph(kernel_dtype: str) -> Graph:
    x = TensorSpec("x", (None, 4))
    nodes = (
        Node(name="x", op="InputLayer", layer="x", inputs=(), outputs=("x",)),
        Node(name="fc", op="Dense", layer="fc", inputs=("x",), outputs=("y",),
             config={"units": 8, "use_bias": True},
             weights=(WeightSpec("fc/kernel", (4, 8), kernel_dtype),
                      WeightSpec("fc/bias", (8,), "float32"))),
    )
    return Graph(format="keras-h5", producer="hand", name="g", inputs=(x,), outputs=("y",),
                 nodes=nodes)


def test_unknown_dtype_is_named_and_left_out() -> None:
    known = analyse_graph(_dense_graph("float32"), "hand.h5", batch=1)
    assert not [f for f in known.findings if f.code == "unknown-dtype"]
    assert known.totals.param_bytes == (32 + 8) * 4
    r = analyse_graph(_dense_graph("float6_e3m2"), "hand.h5", batch=1)
    found = [f for f in r.findings if f.code == "unknown-dtype"]
    assert len(found) == 1, r.findings
    f = found[0]
    assert f.extra["tensors"] == ["fc/kernel"] and f.extra["dtypes"] == ["float6_e3m2"]
    assert "fc/kernel" in f.message and "at least" in f.message
    # the kernel's bytes are left out, not guessed: only the bias counts
    assert r.totals.param_bytes == 8 * 4 and r.totals.params == 40
    assert dtype_bytes("float6_e3m2") == 0 and dtype_bytes("float16") == 2


def test_engine_overriding_a_rule_shape_is_a_finding() -> None:
    dense = _dense_graph("float32").nodes[1]
    agree = _infer_node(dense, {"x": (1, 4), "y": (1, 8)}, {})
    assert agree.outputs == [(1, 8)] and not agree.disagreements
    partial = _infer_node(dense, {"x": (1, 4), "y": (None, 8)}, {})
    assert not partial.disagreements  # a dim one side leaves open is no disagreement
    differ = _infer_node(dense, {"x": (1, 4), "y": (1, 99)}, {})
    assert differ.outputs == [(1, 99)]  # the engine's shape is kept ...
    assert differ.disagreements == (("y", (1, 99), (1, 8)),)
    (finding,) = _disagreement_finding([agree, differ])  # ... and said
    assert finding.code == "rule-engine-disagree" and finding.layer == "fc"
    assert "engine [1, 99], rule [1, 8]" in finding.message
    assert finding.extra["count"] == 1
