"""SavedModel folders: the Keras-written path (no TensorFlow), the graph-only path (TF's own
shape functions), a real SavedModel from another project, and malformed folders.

Fixtures are *hollow* (fixtures/make_savedmodels.py truncates every variables.data-* shard to
0 bytes), which is itself a test that memscan never reads variable values.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from artifacts import fetch
from conftest import FIXTURES, ROOT, cli_json, run_cli

SM = FIXTURES / "savedmodel"
VGG = SM / "vgg16_tfk"
RESNET = SM / "resnet50_export"
BASIC_PITCH_SHA256 = "095cf7e8a2205331d9cd05d545f49c4a51d5826e7f385d1bfb8657b9ff3d0e33"


def test_fixtures_are_hollow():
    shards = list(SM.glob("*/variables/variables.data-*"))
    assert shards and all(p.stat().st_size == 0 for p in shards)


# ------------------------------------------------------------------ Keras-written SavedModel

@pytest.fixture(scope="module")
def vgg_report() -> dict:
    return cli_json(str(VGG), "--input", "1024,1024,3")


def test_vgg16_tf_keras_savedmodel_gives_reference_numbers(vgg_report):
    t = vgg_report["totals"]
    assert vgg_report["model"]["format"] == "savedmodel"
    assert t["params"] == 2_183_080_744
    assert t["stored_params"] == 138_357_544
    assert t["param_bytes"] == 8_732_322_976
    assert t["feature_map_bytes"] == 1_275_105_184
    codes = [(f["code"], f.get("layer")) for f in vgg_report["findings"]]
    assert ("int32-param-overflow", "fc1") in codes
    assert ("int32-param-overflow", None) in codes
    assert ("weights-mismatch", "fc1") in codes


def test_vgg16_savedmodel_report_equals_h5_report(vgg_report):
    """Same model, same Keras path: everything but the file's own identity is equal."""
    h5 = cli_json(str(FIXTURES / "tf_keras" / "vgg16.h5"), "--input", "1024,1024,3")
    for key in ("layers", "totals", "findings", "inputs", "batch"):
        assert vgg_report[key] == h5[key], key


@pytest.mark.parametrize("name, args", [
    ("multi_io", []),  # two inputs, a shared layer, a nested model called twice
    ("seq_conv1d", ["--input", "300,8"]),  # Sequential
    ("layer_mix", ["--input", "64,48,3"]),  # many layer classes, weights tied to the input
])
def test_small_tf_keras_savedmodels_equal_their_h5(name, args):
    sm = cli_json(str(SM / f"{name}_tfk"), *args)
    h5 = cli_json(str(FIXTURES / "tf_keras" / f"{name}.h5"), *args)
    assert sm["model"]["format"] == "savedmodel"
    for key in ("layers", "totals", "findings", "inputs"):
        assert sm[key] == h5[key], key


def test_saved_model_pb_path_is_accepted_too():
    rep = cli_json(str(VGG / "saved_model.pb"), "--input", "224,224,3")
    assert rep["totals"]["params"] == 138_357_544


def test_keras_written_savedmodel_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from analyzer.analysis import analyse\n"
        "from analyzer.inputs import InputArg\n"
        f"r = analyse({str(VGG)!r}, inputs=[InputArg(None, (1024, 1024, 3))])\n"
        "assert r.totals.params == 2_183_080_744, r.totals.params\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'tf_keras', 'google'))\n"
        "print(heavy)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_duplicate_variable_paths_counted_once():
    """Keras 3 export stores every variable under variables/N and _all_variables/N: the
    index holds both (2 x 23,587,712 elements), as two objects of the object graph with the
    same name, dtype and shape; memscan keeps the ``variables/N`` one."""
    sys.path.insert(0, str(ROOT))
    from analyzer.formats.saved_model_pb import read_meta_graph
    from analyzer.formats.savedmodel import read_variables
    from analyzer.formats.tf_tensors import read_index

    entries = [e for e in read_index(str(RESNET / "variables" / "variables.index"))
               if e.dtype != "string"]
    assert sum(_size(e.shape) for e in entries) == 2 * 23_587_712
    meta = read_meta_graph((RESNET / "saved_model.pb").read_bytes())
    variables, findings = read_variables(str(RESNET), meta, str(RESNET))
    assert sum(v.spec.size for v in variables) == 23_587_712 and not findings
    assert all(p.startswith(("variables/", "trainable_variables/", "non_trainable_variables/"))
               for v in variables for p in v.paths)


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# ------------------------------------------------------------------ graph-only SavedModel

def test_keras3_export_resnet50_matches_keras_and_h5():
    """Keras 3 ``model.export()`` of ResNet50 (include_top=False) at 512x512x3, shaped by TF.

    Against the .h5 of the same model, row by row. Keras 3 names the traced ops' scopes
    ``<layer>_1`` (its symbolic call), so rows map by that suffix; the input row is the
    signature's ``keras_tensor`` instead of ``input_layer``. What could differ and does not:
    Identity ops at the function boundaries alias their input (no row); BatchNormalization's
    weight Reshapes/Casts and the Conv bias Reshape/Squeeze read only variables, so they are
    weights, not activations; each conv's Conv2D+BiasAdd pair is one scope, so only BiasAdd's
    output (the layer output) leaves the row. Hence the feature-map sums are equal, to the
    byte, and no difference is left to explain.
    """
    keras_says = json.loads((SM / "resnet50_export.keras.json").read_text())
    sm = cli_json(str(RESNET), "--input", "512,512,3")
    h5 = cli_json(str(SM / "resnet50_notop.h5"), "--input", "512,512,3")
    assert sm["totals"]["params"] == keras_says["params"] == 23_587_712
    assert sm["layers"][-1]["output_shapes"] == [keras_says["output_shape@512x512x3"]]
    # Rows come in each graph's own topological order (TF's differs inside residual blocks).
    rows_sm = {r["name"].removesuffix("_1"): r for r in sm["layers"] if r["type"] != "InputLayer"}
    rows_h5 = {r["name"]: r for r in h5["layers"] if r["type"] != "InputLayer"}
    assert sorted(rows_sm) == sorted(rows_h5) and len(rows_h5) == 174
    for name, b in rows_h5.items():
        a = rows_sm[name]
        assert (a["output_shapes"], a["activation_bytes"], a["params"]) == \
               (b["output_shapes"], b["activation_bytes"], b["params"]), name
    inputs_sm = [r for r in sm["layers"] if r["type"] == "InputLayer"]
    inputs_h5 = [r for r in h5["layers"] if r["type"] == "InputLayer"]
    assert [r["activation_bytes"] for r in inputs_sm] == [r["activation_bytes"] for r in inputs_h5]
    assert sm["totals"]["feature_map_bytes"] == h5["totals"]["feature_map_bytes"] \
        == 775_234_992
    assert not [f for f in sm["findings"] if f["code"] == "tf-unshaped-op"]


def test_tf1_savedmodel_without_object_graph():
    """A TF1 graph-mode SavedModel (VariableV2, no object graph; fixtures/make_savedmodels.py
    tf1_conv). By hand at 64x64x3: conv 3*3*3*8 + 8 = 224 params, out 64*64*8; maxpool 2 ->
    32*32*8; mean + dense 8*4 + 4 = 36 params, out 4. Feature maps: (64*64*3 + 64*64*8 +
    32*32*8 + 4) * 4 bytes. Weight names come from variables.index (TF1 keys = names)."""
    rep = cli_json(str(SM / "tf1_conv"), "--input", "64,64,3", "--batch", "3")
    rows = {r["name"]: r for r in rep["layers"]}
    assert [(n, rows[n]["output_shapes"], rows[n]["params"]) for n in rows] == [
        ("image", [[3, 64, 64, 3]], 0), ("conv", [[3, 64, 64, 8]], 224),
        ("pool", [[3, 32, 32, 8]], 0), ("head", [[3, 4]], 36)]
    assert rep["totals"]["feature_map_bytes"] == 3 * (64 * 64 * 3 + 64 * 64 * 8 + 32 * 32 * 8
                                                      + 4) * 4
    assert rep["findings"] == []


def test_unknown_signature_is_one_line_exit_2():
    proc = run_cli(str(RESNET), "--signature", "nope", "--input", "64,64,3")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "serving_default" in proc.stderr


# ------------------------------------------------------------------ a real, older SavedModel

def test_basic_pitch_nmp_savedmodel():
    """basic-pitch 0.4.0's note model, saved by TF 2.4 with custom Keras layers (CQT,
    harmonic stacking): its configs cannot be shaped without their code, so the traced graph
    is analysed with TF's shape functions."""
    folder = fetch("basic-pitch", "0.4.0", "basic_pitch/saved_models/icassp_2022/nmp/",
                   BASIC_PITCH_SHA256)
    rep = cli_json(str(folder), "--batch", "2")
    assert rep["totals"]["params"] == 16_864
    assert rep["inputs"][0]["shape"] == [2, 43844, 1]
    rows = {r["name"]: r for r in rep["layers"]}
    # The model's outputs, in its own order (onset, contour, note).
    assert [rows[n]["output_shapes"] for n in ("onset", "contour", "note")] == \
        [[[2, 172, 88]], [[2, 172, 264]], [[2, 172, 88]]]
    assert "keras-config-not-used" in [f["code"] for f in rep["findings"]]
    assert rep["totals"]["layers_with_unknown_shapes"] == 0


def test_ops_tf_cannot_shape_are_findings():
    """100 audio samples where the model reshapes to a fixed 43,844: TF's Reshape shape
    function rejects it; the op is a finding naming its row and TF's reason, what it feeds is
    unknown, and the run still ends with exit 0 (params are still known)."""
    folder = fetch("basic-pitch", "0.4.0", "basic_pitch/saved_models/icassp_2022/nmp/",
                   BASIC_PITCH_SHA256)
    rep = cli_json(str(folder), "--input", "100,1")
    bad = [f for f in rep["findings"] if f["code"] == "tf-unshaped-op"]
    assert bad[0]["layer"] == "flatten_audio_ch_1"
    assert "Reshape" in bad[0]["message"] and "43844" in bad[0]["message"]
    assert rep["totals"]["params"] == 16_864
    assert rep["totals"]["layers_with_unknown_shapes"] > 0


# ------------------------------------------------------------------ malformed folders

@pytest.mark.parametrize("damage", ["truncate", "garbage", "bad-block", "compressed"])
def test_corrupt_variables_index_is_one_line_exit_2(tmp_path: Path, damage: str):
    folder = tmp_path / "vgg"
    shutil.copytree(VGG, folder)
    index = folder / "variables" / "variables.index"
    data = bytearray(index.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = bytearray(b"\xff" * len(data))
    elif damage == "bad-block":
        data[:64] = b"\xff" * 64  # entries of the first data block
    else:  # mark the first data block snappy-compressed: TF never writes that; refused
        size = _first_block_size(bytes(data))
        data[size] = 1
    index.write_bytes(bytes(data))
    proc = run_cli(str(folder), "--input", "224,224,3")
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.count("\n") == 1 and "variables.index" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    if damage == "compressed":
        assert "compressed" in proc.stderr


def _first_block_size(data: bytes) -> int:
    """Size of the first data block: the first handle in the index block (footer -> index)."""
    sys.path.insert(0, str(ROOT))
    from analyzer.formats.protowire import read_varint

    footer = data[-48:]
    pos = 0
    for _ in range(2):  # metaindex handle
        _, pos = read_varint(footer, pos)
    idx_off, pos = read_varint(footer, pos)
    # index block's first entry: shared, unshared, value length, key, value = handle
    p = idx_off
    _, p = read_varint(data, p)
    unshared, p = read_varint(data, p)
    _, p = read_varint(data, p)
    p += unshared
    off, p = read_varint(data, p)
    size, _ = read_varint(data, p)
    assert off == 0
    return size


def test_folder_without_saved_model_is_not_detected(tmp_path: Path):
    (tmp_path / "variables").mkdir()
    proc = run_cli(str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
