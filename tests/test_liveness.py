"""Liveness, arena and training figures on hand-built graphs, numbers worked out by hand."""
from __future__ import annotations

from analyzer.analysis import analyse_graph
from analyzer.ir import Graph, Node, TensorSpec, WeightSpec
from analyzer.liveness import liveness
from analyzer.shapes.infer import infer


def _graph(nodes, shapes, inputs, outputs, fmt="test", known_dtypes=None) -> Graph:
    """A graph whose shapes are all given (ops without rules), float32; format "onnx" speaks
    the ONNX dialect (so it runs under the onnxruntime model), any other Keras."""
    return Graph(format=fmt, producer="hand", name="g",
                 inputs=tuple(TensorSpec(n, shapes[n]) for n in inputs), outputs=outputs,
                 nodes=tuple(nodes), given_shapes=dict(shapes), known_dtypes=known_dtypes or {},
                 batch_first=False, dialect="onnx" if fmt == "onnx" else "keras")


def _node(name, op, ins, outs, **kw) -> Node:
    return Node(name=name, op=op, layer=name, inputs=tuple(ins), outputs=tuple(outs), **kw)


def branchy() -> Graph:
    """x -> A -> a;  a -> B -> b -> Flatten -> r;  a -> C -> c;  (r, c) -> D -> d (output).

    float32 bytes: x 40, a 400, b 800, r 800 (aliases b), c 200, d 120.
    """
    shapes = {"x": (1, 10), "a": (1, 100), "b": (1, 200), "r": (1, 200), "c": (1, 50),
              "d": (1, 30)}
    nodes = [_node("A", "OpA", ["x"], ["a"], weights=(WeightSpec("A/w", (10, 100)),)),
             _node("B", "OpB", ["a"], ["b"]),
             _node("R", "Flatten", ["b"], ["r"]),
             _node("C", "OpC", ["a"], ["c"],
                   weights=(WeightSpec("C/w", (100, 50)), WeightSpec("C/stat", (50,),
                                                                    trainable=False))),
             _node("D", "OpD", ["r", "c"], ["d"])]
    return _graph(nodes, shapes, ["x"], ("d",))


def test_branches_and_alias_by_hand() -> None:
    g = branchy()
    live = liveness(infer(g, {"x": (1, 10)}))
    # Lifetimes (step indices A0 B1 R2 C3 D4): x whole run; a 0..3 (C reads it last);
    # b 1..4 (r is b's buffer, D reads r); c 3..4; d 4..end (graph output).
    assert [s.row for s in live.steps] == ["A", "B", "R", "C", "D"]
    assert live.during == [40 + 400,                # A: x, a
                           40 + 400 + 800,          # B: x, a, b
                           40 + 400 + 800,          # R: no new buffer
                           40 + 400 + 800 + 200,    # C: x, a, b, c  <- peak
                           40 + 800 + 200 + 120]    # D: a is gone
    assert live.after == [440, 1240, 1240, 40 + 800 + 200, 40 + 120]
    assert live.peak_bytes == 1440 and live.peak_row == "C"
    assert live.input_bytes == 40
    # Arena, largest first: b@0, a@800, c@1200, d in the 800..1200 gap once a is dead
    # (best fit), x after c: 1400 + 40.
    assert live.arena_bytes == 1440
    assert live.distinct_bytes == 40 + 400 + 800 + 200 + 120  # r shares b


def test_report_totals_by_hand() -> None:
    report = analyse_graph(branchy(), "hand", optimizer="adam")
    t = report.totals
    assert t.feature_map_bytes == 400 + 800 + 800 + 200 + 120  # no input layer row here
    assert t.activation_peak_bytes == 1440 and t.peak_layer == "C"
    assert t.arena_bytes == 1440
    assert t.param_bytes == (1000 + 5000 + 50) * 4
    assert t.trainable_param_bytes == (1000 + 5000) * 4
    assert t.non_trainable_param_bytes == 50 * 4
    assert t.gradient_bytes == 24000 and t.optimizer_state_bytes == 48000
    # Ops without a backward_saved entry keep their outputs: every buffer once, as before.
    assert t.training_activation_bytes == 1560
    # Backward walk (reverse of A0 B1 R2 C3 D4): kept tensors alive at step k are those first
    # read at or before k (x, a from 0; b from 1; c from 3; d from 4); gradients of a live
    # 0..3, of b (= r) 1..4, of c 3..4, of d 4..4. Highest at C: kept 1440 + a, b, c 1400
    # = 2840, which is 1280 above the 1560 kept.
    assert t.training_backward_bytes == 1280
    assert t.training_bytes == 24200 + 24000 + 48000 + 1560 + 1280
    assert t.inference_peak_bytes == 24200 + 1440
    rows = {r.name: r for r in report.layers}
    assert rows["C"].live_bytes_after == 1040 and rows["C"].live_bytes_peak == 1440
    assert rows["D"].live_bytes_after == 160
    sgd = analyse_graph(branchy(), "hand", optimizer="sgd").totals
    assert sgd.optimizer_state_bytes == 0 and sgd.training_bytes == t.training_bytes - 48000


def test_dtype_what_if_by_hand() -> None:
    half = analyse_graph(branchy(), "hand", dtype="float16", weights_dtype="int8").totals
    assert half.activation_peak_bytes == 1440 // 2
    assert half.feature_map_bytes == 2320 // 2
    assert half.param_bytes == 6050  # one byte each


def test_nested_model_is_expanded() -> None:
    """outer: x -> M(inner: i -> P -> p -> Q -> q) -> m -> S -> s.

    Expanded, the inner P output (4000 B) is alive while Q runs, beside x (40) and Q's
    output (400): 4440. Treating M as one op would only see x + m + s.
    """
    inner_shapes = {"i": (1, 10), "p": (1, 1000), "q": (1, 100)}
    inner = _graph([_node("P", "OpP", ["i"], ["p"]), _node("Q", "OpQ", ["p"], ["q"])],
                   inner_shapes, ["i"], ("q",))
    outer_shapes = {"x": (1, 10), "m": (1, 100), "s": (1, 5)}
    outer = _graph([_node("M", "Model", ["x"], ["m"], subgraph=inner),
                    _node("S", "OpS", ["m"], ["s"])], outer_shapes, ["x"], ("s",))
    live = liveness(infer(outer, {"x": (1, 10)}))
    assert [s.row for s in live.steps] == ["M", "M", "S"]
    assert live.during == [40 + 4000, 40 + 4000 + 400, 40 + 400 + 20]
    assert live.peak_bytes == 4440 and live.row_after["M"] == 440


def test_onnxruntime_order_and_planner_by_hand() -> None:
    """Format "onnx" replays onnxruntime: reverse-DFS order, Constants as weights, Cast
    pairs removed, Reshape aliasing, Relu in place, same-shape buffers reused and held.

    file order: 0 Conv x->c; 1 Relu c->r; 2 Constant ->k; 3 Shape r->sh; 4 Reshape (r, sh)->v;
    5 Cast v->v1; 6 Cast v1->v2; 7 Conv v2->e (same shape as c); 8 Add (e, r)->y (output).
    """
    f = (1, 4, 16, 16)  # 4096 bytes
    shapes = {"x": f, "c": f, "r": f, "k": (1,), "sh": (4,), "v": f, "v1": f, "v2": f,
              "e": f, "y": f}
    dt = {t: "float32" for t in shapes}
    dt["sh"] = "int64"
    pointwise = {"kernel_shape": [1, 1]}  # no MLAS working buffer
    nodes = [_node("conv0", "Conv", ["x"], ["c"], config=pointwise),
             _node("relu", "Relu", ["c"], ["r"]),
             _node("const", "Constant", [], ["k"]), _node("shape", "Shape", ["r"], ["sh"]),
             _node("reshape", "Reshape", ["r", "sh"], ["v"]),
             _node("cast_a", "Cast", ["v"], ["v1"]), _node("cast_b", "Cast", ["v1"], ["v2"]),
             _node("conv1", "Conv", ["v2", "k"], ["e"], config=pointwise), _node("add", "Add", ["e", "r"], ["y"])]
    g = _graph(nodes, shapes, ["x"], ("y",), fmt="onnx", known_dtypes=dt)
    live = liveness(infer(g, {"x": f}))
    # Leaves: add. Its producers sorted ascending (relu 1, conv1 7) are pushed, so conv1's
    # chain is walked first: conv1 <- reshape (Cast pair gone) <- shape (4) before relu (1).
    assert [s.row for s in live.steps] == ["conv0", "relu", "shape", "reshape", "conv1", "add"]
    # Buffers: x (held), c (conv0; relu writes in place? no: r is read again by shape,
    # reshape and add, but c itself has relu as its only reader -> relu takes c's buffer),
    # sh 32 bytes, v = r's buffer (alias), e new (c/r's buffer still in use), y new (output).
    by_id = {b.id: b for b in live.buffers}
    assert set(by_id) == {"x", "c", "sh", "e", "y"}
    assert by_id["c"].end == 5  # r (and its alias v) last read by add
    assert live.during[5] == 4096 * 4  # add: x, c/r, e, y
    assert live.peak_bytes == 4096 * 4


def test_per_layer_dtypes_by_hand() -> None:
    """A float16 layer (a Keras mixed_float16 policy, an ONNX float16 value) holds half the
    bytes; --dtype re-types floats only, an int64 tensor stays 8 bytes a value."""
    shapes = {"x": (1, 100), "h": (1, 100), "i": (1, 100)}
    nodes = [_node("H", "OpH", ["x"], ["h"], dtype="float16"),
             _node("I", "OpI", ["h"], ["i"])]
    g = _graph(nodes, shapes, ["x"], ("i",), known_dtypes={"i": "int64"})
    t = analyse_graph(g, "hand").totals
    assert t.feature_map_bytes == 200 + 800
    assert t.activation_peak_bytes == 400 + 200 + 800  # x, h, i while I runs
    t8 = analyse_graph(g, "hand", dtype="int8").totals
    assert t8.feature_map_bytes == 100 + 800
    assert t8.activation_peak_bytes == 100 + 100 + 800
