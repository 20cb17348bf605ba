"""Input layouts: a contradicting channel/feature dim is refused with a hint; ``--size`` sets
the spatial dims of image-like inputs in every format; per-path inputs in [tool.memscan]."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import FIXTURES, run_cli  # noqa: E402
from onnx_models import tiny_cnn  # noqa: E402

from analyzer import formats  # noqa: E402
from analyzer.errors import BadArguments  # noqa: E402
from analyzer.inputs import (channel_axis, parse_input_arg, parse_size_arg,  # noqa: E402
                             resolve_inputs, sized_shape)
from analyzer.ir import TensorSpec  # noqa: E402

RESNET = str(FIXTURES / "keras3" / "resnet50.h5")
FLAT = str(FIXTURES / "tf_keras" / "flatten_dense.h5")  # [None, 64, 64, 3], small
SEQ = str(FIXTURES / "keras3" / "seq_conv1d.h5")
MULTI = str(FIXTURES / "keras3" / "multi_io.h5")


def _one_line_error(proc, *fragments: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    return lines[0]


def test_channels_first_input_on_channels_last_keras_is_refused() -> None:
    line = _one_line_error(run_cli(RESNET, "--input", "3,1024,1024"),
                           RESNET, "[None, 224, 224, 3]", "channels-last",
                           "try --input 1024,1024,3")
    assert "channels fixed at 3" in line


def test_keras_size_equals_the_channels_last_input() -> None:
    by_size = run_cli(FLAT, "--size", "32x48", "--format", "json")
    by_input = run_cli(FLAT, "--input", "32,48,3", "--format", "json")
    assert by_size.returncode == 0 and by_input.returncode == 0, by_size.stderr
    a, b = json.loads(by_size.stdout), json.loads(by_input.stdout)
    assert a["inputs"][0]["shape"] == [1, 32, 48, 3]
    assert a["totals"] == b["totals"]


def test_keras_sequence_and_feature_dims() -> None:
    graph = formats.load(SEQ)
    spec = graph.inputs[0]
    steps, feats = spec.shape[1], spec.shape[2]
    assert feats is not None
    with pytest.raises(BadArguments) as exc:
        resolve_inputs(graph, [parse_input_arg(f"500,{feats + 1}")], None)
    assert f"channels fixed at {feats}" in str(exc.value)
    assert f"try --input 500,{feats}" in str(exc.value)
    ok = resolve_inputs(graph, [parse_input_arg(f"500,{feats}")], 2)
    assert ok[spec.name] == (2, 500, feats)
    assert resolve_inputs(graph, [], None, size=(300,))[spec.name] == (1, 300, feats)


def test_savedmodel_signature_channels_checked() -> None:
    path = str(FIXTURES / "savedmodel" / "tf1_conv")
    graph = formats.load(path)
    spec = graph.inputs[0]
    axis = channel_axis(spec, "channels-last")
    assert spec.shape[axis] is not None
    wrong = [spec.shape[axis] + 1] + [32] * (len(spec.shape) - 2)
    with pytest.raises(BadArguments) as exc:
        resolve_inputs(graph, [parse_input_arg(",".join(map(str, wrong)))], None)
    assert "channels-last" in str(exc.value) and "try --input" in str(exc.value)


def test_sized_shape_nhwc_and_nchw() -> None:
    assert sized_shape((None, 224, 224, 3), (1024, 768), 3) == (None, 1024, 768, 3)
    assert sized_shape((None, 3, None, None), (512,), 1) == (None, 3, 512, 512)
    assert sized_shape((1, 3, 8, 8, 8), (4,), 1) == (1, 3, 4, 4, 4)
    with pytest.raises(BadArguments):
        sized_shape((None, 224, 224, 3), (1, 2, 3), 3)
    assert parse_size_arg("1024x768") == (1024, 768) and parse_size_arg("64") == (64,)
    for bad in ("0", "x", "12xa", "-3"):
        with pytest.raises(BadArguments):
            parse_size_arg(bad)


def test_channel_axis_from_fixed_dims() -> None:
    assert channel_axis(TensorSpec("x", (None, 3, None, None)), None) == 1
    assert channel_axis(TensorSpec("x", (1, 224, 224, 3)), None) == 3
    assert channel_axis(TensorSpec("x", (1, 3, 224, 224)), None) == 1
    assert channel_axis(TensorSpec("x", (None, None, None, None)), None) is None
    assert channel_axis(TensorSpec("ids", (None, 128), "int32"), None) is None
    assert channel_axis(TensorSpec("x", (None, 784)), "channels-last") == 1


@pytest.fixture(scope="module")
def onnx_cnn(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    tiny_cnn(path)
    return path


def test_onnx_size_and_rank_short_input(onnx_cnn) -> None:
    graph = formats.load(str(onnx_cnn))
    assert resolve_inputs(graph, [], None, size=(16,)) == {"x": (1, 3, 16, 16)}
    assert resolve_inputs(graph, [], 4, size=(16, 8)) == {"x": (4, 3, 16, 8)}
    # one rank short: the batch comes from --batch, default 1
    assert resolve_inputs(graph, [parse_input_arg("3,16,16")], None) == {"x": (1, 3, 16, 16)}
    with pytest.raises(BadArguments) as exc:
        resolve_inputs(graph, [parse_input_arg("16,16,3")], None)
    assert "fixes dim 1 at 3" in str(exc.value) and "try --input 3,16,16" in str(exc.value)


def test_size_on_a_non_image_input_is_refused() -> None:
    graph = formats.load(MULTI)
    assert [s.shape for s in graph.inputs] == [(None, 16), (None, 16)]
    with pytest.raises(BadArguments) as exc:
        resolve_inputs(graph, [], None, size=(64,))
    assert "image-like" in str(exc.value) and "features last" in str(exc.value)
    with pytest.raises(BadArguments) as exc:  # the feature dim is fixed by the file
        resolve_inputs(graph, [parse_input_arg("a=16"), parse_input_arg("b=17")], None)
    assert "features fixed at 16" in str(exc.value) and "try --input 16" in str(exc.value)


def test_mixed_folder_with_size(tmp_path, onnx_cnn) -> None:
    shutil.copy(FLAT, tmp_path / "flat.h5")
    shutil.copy(onnx_cnn, tmp_path / "tiny.onnx")
    proc = run_cli(str(tmp_path), "--size", "16", "--format", "json", "-j", "1")
    assert proc.returncode == 0, proc.stderr
    shapes = {Path(r["model"]["path"]).name: r["inputs"][0]["shape"]
              for r in json.loads(proc.stdout)["reports"]}
    assert shapes == {"flat.h5": [1, 16, 16, 3], "tiny.onnx": [1, 3, 16, 16]}


def test_per_path_inputs_in_pyproject(tmp_path, onnx_cnn) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(FLAT, models / "flat.h5")
    shutil.copy(onnx_cnn, models / "tiny.onnx")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.memscan]\ninputs = ["models"]\ninput = "64,64,3"\njobs = 1\n'
        '[tool.memscan.per-path."models/*.onnx"]\ninput = "2,3,16,8"\n'
        '[tool.memscan.per-path."nothing/*"]\nsize = "8"\n')
    proc = run_cli("--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    shapes = {Path(r["model"]["path"]).name: r["inputs"][0]["shape"]
              for r in json.loads(proc.stdout)["reports"]}
    assert shapes == {"flat.h5": [1, 64, 64, 3], "tiny.onnx": [2, 3, 16, 8]}
    # a shape typed on the command line wins over every entry
    proc = run_cli("--format", "json", "--size", "32", cwd=tmp_path)
    shapes = {Path(r["model"]["path"]).name: r["inputs"][0]["shape"]
              for r in json.loads(proc.stdout)["reports"]}
    assert proc.returncode == 0 and shapes == {"flat.h5": [1, 32, 32, 3],
                                               "tiny.onnx": [1, 3, 32, 32]}, proc.stderr


def test_per_path_rejects_non_analysis_keys(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.memscan.per-path."*.h5"]\nbudget = "1GiB"\n')
    _one_line_error(run_cli(FLAT, cwd=tmp_path), "per-path", "only analysis options")
