"""ONNX through the real CLI: figures, the checks the engines miss, input overrides, malformed
and hostile files (one line, exit 2, or a finding), constant memory, no files left behind."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT, run_cli

onnx = pytest.importorskip("onnx")

from onnx_models import big_matmuls, tiny_cnn  # noqa: E402

from analyzer import formats  # noqa: E402
from analyzer.analysis import analyse  # noqa: E402
from analyzer.errors import BadArguments, UnreadableArtifact  # noqa: E402
from analyzer.formats import onnx_wire  # noqa: E402
from analyzer.inputs import parse_input_arg, resolve_inputs  # noqa: E402


def _json(*args, cwd=None):
    proc = run_cli(*args, "--format", "json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for frag in fragments:
        assert frag in lines[0], lines[0]


def _codes(report):
    return {f["code"] for f in report["findings"]}


def test_tiny_cnn_at_stored_and_new_input(tmp_path):
    path = tmp_path / "tiny.onnx"
    stored = tiny_cnn(path, hw=16)
    r = _json(str(path), "--input", "1,3,16,16")
    assert r["model"]["format"] == "onnx" and r["model"]["producer"] == "memscan-tests"
    rows = {row["name"]: row for row in r["layers"]}
    assert list(rows) == ["x", "conv", "relu", "flatten", "fc"]
    assert rows["conv"]["output_shapes"] == [[1, 8, 16, 16]] and rows["conv"]["params"] == 224
    assert rows["fc"]["output_shapes"] == [[1, 10]]
    assert rows["flatten"]["params"] == 2  # the int64 shape initializer is stored data too
    assert r["totals"]["params"] == stored == 224 + 2 + 2048 * 10
    # input + conv + relu + flatten + fc outputs, float32
    assert r["totals"]["feature_map_bytes"] == 4 * (3 * 256 + 8 * 256 * 3 + 10)
    assert "weights-mismatch" not in _codes(r)

    # 32×32: the flatten is still valid (-1), but fc's stored (2048, 10) no longer fits.
    r = _json(str(path), "--input", "1,3,32,32")
    fc = next(f for f in r["findings"] if f["code"] == "weights-mismatch")
    assert fc["layer"] == "fc" and fc["stored_shape"] == [2048, 10]
    assert fc["needed_shape"] == [8192, 10]
    unshaped = next(f for f in r["findings"] if f["code"] == "unshaped-tensors")
    assert unshaped["tensors"] == ["y"] and unshaped["count"] == 1
    assert r["totals"]["layers_with_unknown_shapes"] == 1


def test_reshape_to_constant_shape_that_no_longer_fits(tmp_path):
    path = tmp_path / "fixed_reshape.onnx"
    tiny_cnn(path, reshape_target=(1, 2048), hw=16)
    assert "shape-error" not in _codes(_json(str(path), "--input", "1,3,16,16"))
    r = _json(str(path), "--input", "1,3,32,32")
    err = next(f for f in r["findings"] if f["code"] == "shape-error")
    assert err["layer"] == "flatten" and "8,192 elements" in err["message"]


def test_batch_dim_and_layout_errors(tmp_path):
    path = tmp_path / "tiny.onnx"
    tiny_cnn(path)
    r = _json(str(path), "--batch", "4", "--dim", "H=16", "--dim", "W=16")
    assert r["inputs"][0]["shape"] == [4, 3, 16, 16] and r["batch"] == 4
    _one_line_error(run_cli(str(path), "--input", "1,16,16,3"),
                    "fixes dim 1 at 3", "[N, 3, H, W]")
    # The rest in-process (each CLI start imports onnx): same code path, same messages.
    graph = formats.load(str(path))
    assert resolve_inputs(graph, [parse_input_arg("3,16,16")], 2) == {"x": (2, 3, 16, 16)}
    assert resolve_inputs(graph, [parse_input_arg("x=1,3,8,8")], None) == {"x": (1, 3, 8, 8)}
    for args, batch, dims, fragments in [
        (["16,16,3"], None, {}, ["[N, 3, H, W]", "fixes dim 1 at 3", "try --input 3,16,16"]),
        (["16,3"], None, {}, ["[N, 3, H, W]", "--input gave 2: 16,3"]),
        (["2,3,16,16"], 4, {}, ["batch 2 but --batch is 4"]),
        ([], None, {"height": 4}, ["no input dim named 'height'", "H, N, W"]),
        ([], None, {}, ["dim 2 (H) is unknown", "--dim H=VALUE"]),
        (["1,3,16,16"], None, {"H": 8}, ["fixes dim 2 at 8"]),
        (["y=1,3,16,16"], None, {}, ["inputs are x"]),
    ]:
        with pytest.raises(BadArguments) as exc:
            resolve_inputs(graph, [parse_input_arg(a) for a in args], batch, dims, path="m")
        for frag in fragments:
            assert frag in str(exc.value) and "\n" not in str(exc.value)


def test_hdf5_named_onnx_is_reported_as_hdf5(tmp_path):
    fake = tmp_path / "model.onnx"
    shutil.copy(FIXTURES / "keras3" / "vgg16.h5", fake)
    r = _json(str(fake))
    assert r["model"]["format"] == "keras-h5"


@pytest.mark.parametrize("kind", ["truncated", "garbage", "deep", "negative-dim", "length"])
def test_malformed_files_end_in_one_line(tmp_path, kind):
    good = tmp_path / "good.onnx"
    tiny_cnn(good)
    data = good.read_bytes()
    bad = tmp_path / "bad.onnx"
    if kind == "truncated":
        bad.write_bytes(data[: len(data) // 2])
        expect = "malformed ONNX file"
    elif kind == "garbage":
        bad.write_bytes(b"\x08\x07" + os.urandom(2000))  # ir_version 7, then noise
        expect = ""
    elif kind == "deep":
        # Graph → node → attribute g → graph → ... 100 levels: the depth bound stops it.
        msg = b""
        for _ in range(100):
            attr = _field(1, b"then_branch") + _varint_field(20, 5) + _field(6, msg)
            node = _field(4, b"If") + _field(5, attr)
            msg = _field(1, node)
        bad.write_bytes(_varint_field(1, 8) + _field(7, msg))
        expect = "nesting deeper than"
    elif kind == "negative-dim":
        t = b"\x08" + onnx_wire._varint((1 << 64) - 5) + _varint_field(2, 1) + _field(8, b"w")
        bad.write_bytes(_varint_field(1, 8) + _field(7, _field(5, t)))
        expect = "negative dim"
    else:  # a length prefix far beyond the file
        bad.write_bytes(_varint_field(1, 8) + b"\x3a" + onnx_wire._varint(10**12) + b"\x00" * 64)
        expect = ""
    if kind in ("truncated", "deep"):  # the real CLI: exit 2, one line
        _one_line_error(run_cli(str(bad)), str(bad), expect)
    else:
        with pytest.raises(UnreadableArtifact) as exc:
            analyse(str(bad))
        assert expect in str(exc.value) and str(bad) in str(exc.value)


def _field(num, payload: bytes) -> bytes:
    return onnx_wire._key(num, 2) + onnx_wire._varint(len(payload)) + payload


def _varint_field(num, value) -> bytes:
    return onnx_wire._key(num, 0) + onnx_wire._varint(value)


def test_external_data_inside_outside_and_missing(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    path = folder / "big.onnx"
    elements = big_matmuls(path, 8, external="weights.bin")
    r = _json(str(path))
    assert r["totals"]["params"] == elements
    assert "external-data-outside" not in _codes(r)
    assert os.path.getsize(path) < 4096  # the weights really are external

    # A location with "..", an absolute one, and a symlink leading out: never opened, a finding.
    outside = tmp_path / "secret.bin"
    outside.write_bytes(b"\x00" * 16)
    (folder / "link.bin").symlink_to(outside)
    for location in ("../secret.bin", str(outside), "link.bin"):
        _set_location(path, location)
        r = analyse(str(path)).to_dict()
        f = [x for x in r["findings"] if x["code"] == "external-data-outside"]
        assert f and f[0]["location"] == location and f[0]["severity"] == "error"
        assert r["totals"]["params"] == elements  # sizes from dims, the data never read

    _set_location(path, "missing.bin")
    with pytest.raises(UnreadableArtifact, match="external data file 'missing.bin' is missing"):
        analyse(str(path))
    _set_location(path, "weights.bin")
    with open(folder / "weights.bin", "r+b") as fh:
        fh.truncate(1000)
    with pytest.raises(UnreadableArtifact, match="holds 1,000 bytes"):
        analyse(str(path))


def _set_location(path, location):
    m = onnx.load(str(path), load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = location
    onnx.save(m, str(path))


def test_no_files_left_behind_when_engines_fail(tmp_path):
    path = tmp_path / "tiny.onnx"
    tiny_cnn(path)
    work = tmp_path / "cwd"
    work.mkdir()
    r = _json(str(path), "--input", "1,3,32,32", cwd=work)  # onnx strict fails, ORT incomplete
    engine = next(f for f in r["findings"] if f["code"] == "shape-engine")
    assert "onnxruntime: not run" not in engine["message"]  # onnx left a gap: ORT ran too
    assert "onnxruntime unavailable" not in engine["message"]
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "tiny.onnx"]


def test_peak_rss_does_not_grow_with_the_file(tmp_path):
    """A 200 MB model costs about what a 4 MB one does (weights are stepped over, never read)."""
    rss = {}
    for mb in (4, 200):
        path = tmp_path / f"m{mb}.onnx"
        big_matmuls(path, mb)
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec from this (big) process.
        code = ("import sys; from analyzer.cli import main; "
                f"rc = main([{str(path)!r}, '--format', 'json', '-o', {str(tmp_path / 'r.json')!r}]); "
                "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]);"
                " sys.exit(rc)")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        rss[mb] = int(proc.stdout.split()[-1]) * 1024
        path.unlink()
    assert rss[200] < 100 * 2**20, rss
    assert rss[200] - rss[4] < 16 * 2**20, rss


def test_subgraph_and_quantized_weights_counted_once(tmp_path):
    """If branches' own initializers and an outer weight read inside a branch belong to the If
    node; an int8 weight costs 1 byte per element; a weight shared by two nodes counts once."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    outer = numpy_helper.from_array(np.ones((4, 4), np.float32), "outer_w")
    q = numpy_helper.from_array(np.ones((4, 4), np.int8), "q_w")

    def branch(name, n):
        w = numpy_helper.from_array(np.ones((4, n), np.float32), f"{name}_w")
        mm = helper.make_node("MatMul", ["x", "outer_w"], [f"{name}_a"])
        mm2 = helper.make_node("MatMul", [f"{name}_a", f"{name}_w"], [f"{name}_y"])
        return helper.make_graph([mm, mm2], name, [], [helper.make_tensor_value_info(
            f"{name}_y", TensorProto.FLOAT, [1, n])], [w])

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    c = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    nodes = [
        helper.make_node("If", ["c"], ["y"], name="if", then_branch=branch("then", 4),
                         else_branch=branch("else", 4)),
        helper.make_node("Cast", ["q_w"], ["qf"], name="dequant", to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["y", "qf"], ["z"], name="mm_q"),
        helper.make_node("MatMul", ["z", "outer_w"], ["out"], name="mm_shared"),
    ]
    g = helper.make_graph(nodes, "ifq", [x, c], [helper.make_tensor_value_info(
        "out", TensorProto.FLOAT, [1, 4])], [outer, q])
    path = tmp_path / "ifq.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    r = analyse(str(path)).to_dict()
    rows = {row["name"]: row for row in r["layers"]}
    assert rows["if"]["params"] == 16 + 16 + 16  # then_w, else_w, outer_w (read inside)
    assert rows["dequant"]["params"] == 16 and rows["dequant"]["param_bytes"] == 16
    assert rows["mm_shared"]["params"] == 0  # outer_w already counted at the If
    assert r["totals"]["params"] == 64
    assert r["totals"]["param_bytes"] == 48 * 4 + 16
    assert rows["mm_shared"]["output_shapes"] == [[1, 4]]


def test_model_over_2gb_with_external_data(tmp_path):
    """A 2.6 GB weight in external data (a sparse file: no disk used, never read)."""
    from onnx import TensorProto, helper

    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[40_000, 16_384],
                    data_location=TensorProto.EXTERNAL)
    nbytes = 40_000 * 16_384 * 4
    for k, v in (("location", "w.bin"), ("offset", "0"), ("length", str(nbytes))):
        w.external_data.add(key=k, value=v)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 40_000])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16_384])
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "huge",
                          [x], [y], [w])
    path = tmp_path / "huge.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with open(tmp_path / "w.bin", "wb") as fh:
        fh.truncate(nbytes)
    r = _json(str(path), "--batch", "2")
    assert r["totals"]["params"] == 40_000 * 16_384
    assert r["totals"]["param_bytes"] == nbytes
    big = next(f for f in r["findings"] if f["code"] == "tensor-over-2gib")
    assert big["layer"] == "mm" and big["bytes"] == nbytes
    assert next(row for row in r["layers"] if row["name"] == "mm")["output_shapes"] \
        == [[2, 16_384]]


def test_detector_rejects_savedmodel_pb_and_garbage(tmp_path):
    """ONNX has no magic; SavedModel's saved_model.pb starts like a ModelProto (field 1
    varint, field 2 bytes) but its field 2 is a large binary MetaGraphDef, not a name."""
    meta = _field(1, _field(1, b"serve") + bytes(range(256)) * 20)
    pb = tmp_path / "saved_model.pb"
    pb.write_bytes(_varint_field(1, 1) + _field(2, meta))
    assert not onnx_wire.looks_like_model(str(pb))
    txt = tmp_path / "notes.onnx"
    txt.write_text("hello, not a model\n")
    assert not onnx_wire.looks_like_model(str(txt))
    with pytest.raises(UnreadableArtifact, match="not a model memscan can read"):
        formats.detect(str(txt))
    good = tmp_path / "renamed.bin"
    tiny_cnn(good)
    assert formats.detect(str(good)) == "onnx"  # by content, whatever the extension


def test_input_without_any_shape_takes_the_stated_rank(tmp_path):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)  # no shape, no rank
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "norank",
                          [x], [y])
    path = tmp_path / "norank.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    graph = formats.load(str(path))
    assert not graph.inputs[0].rank_known
    with pytest.raises(BadArguments, match="no shape in the file"):
        resolve_inputs(graph, [], None)
    r = analyse(str(path), [parse_input_arg("2,5,7")]).to_dict()
    assert r["inputs"][0]["shape"] == [2, 5, 7]
    assert r["layers"][-1]["output_shapes"] == [[2, 5, 7]]


def test_onnx_analysis_imports_no_tensorflow_keras_or_torch(tmp_path):
    """Even when onnxruntime's symbolic engine runs (importing onnxruntime.tools would pull
    in torch when installed)."""
    path = tmp_path / "tiny.onnx"
    tiny_cnn(path)
    code = ("import sys; from analyzer.cli import main; "
            f"rc = main([{str(path)!r}, '--input', '1,3,32,32', '--format', 'json', "
            f"'-o', {str(tmp_path / 'r.json')!r}, '--no-isolate']); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'tf_keras', 'torch')); "
            "print(rc, bad, 'memscan_ort_symbolic_shape_infer' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.stdout.split("\n")[0] == "0 [] True", proc.stdout + proc.stderr
