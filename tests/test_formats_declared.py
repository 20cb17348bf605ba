"""One declaration per format (analyzer/formats/__init__.py): a format added with one reader
module and one ``declare`` is detected, read, walked into by discovery (its suffix included)
and named in the "not a model" message, with nothing else edited."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES

from analyzer import formats
from analyzer.discover import discover
from analyzer.errors import UnreadableArtifact

FAKE_READER = '''
from analyzer.ir import Graph, TensorSpec

def read(path):
    return Graph(format="toy", producer="toy 1", name="toy", inputs=(TensorSpec("x", (1, 4)),),
                 outputs=("x",), nodes=())
'''


def test_the_five_formats_are_declared_in_detection_order() -> None:
    assert list(formats.FORMATS) == ["keras-h5", "savedmodel", "onnx", "keras-zip", "tflite"]
    for fmt in formats.FORMATS.values():
        assert callable(importlib.import_module(fmt.reader, formats.__name__).read)
        assert set(fmt.dialects) <= {"keras", "onnx", "tf-graph", "tflite"}
    assert sorted(formats.model_suffixes()) == [".h5", ".hdf5", ".keras", ".onnx", ".tflite"]


def test_detected_kinds_are_the_declared_ones() -> None:
    for path, kind in [(FIXTURES / "keras3" / "vgg16.h5", "keras-h5"),
                       (FIXTURES / "keras_zip" / "seq_mix.keras", "keras-zip"),
                       (FIXTURES / "onnx" / "keras_export.onnx", "onnx"),
                       (FIXTURES / "savedmodel" / "vgg16_tfk", "savedmodel"),
                       (FIXTURES / "tflite" / "cnn_int8.tflite", "tflite")]:
        assert formats.detect(str(path)) == kind
        assert formats.load(str(path)).dialect in formats.FORMATS[kind].dialects


@pytest.fixture
def toy_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A new format, added the documented way: a reader module and one declaration."""
    (tmp_path / "toy_reader.py").write_text(FAKE_READER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(formats, "FORMATS", dict(formats.FORMATS))
    formats.declare("toy", reader="toy_reader", suffixes=(".toy",), dialects=("toy",),
                    label="Toy")(lambda path, head: head.startswith(b"TOY!"))
    yield tmp_path
    sys.modules.pop("toy_reader", None)


def test_a_format_is_one_module_and_one_declaration(toy_format: Path) -> None:
    folder = toy_format / "models"
    folder.mkdir()
    (folder / "a.toy").write_bytes(b"TOY!rest")
    (folder / "broken.toy").write_bytes(b"nope")  # named like a model: analysed, not skipped
    (folder / "notes.txt").write_bytes(b"nope")
    assert formats.detect(str(folder / "a.toy")) == "toy"
    assert formats.load(str(folder / "a.toy")).producer == "toy 1"
    found = discover([str(folder)])
    assert found.artifacts == [str(folder / "a.toy"), str(folder / "broken.toy")]
    assert [s.path for s in found.skipped] == [str(folder / "notes.txt")]
    with pytest.raises(UnreadableArtifact, match=r"SavedModel, ONNX, TFLite or Toy\)"):
        formats.detect(str(folder / "notes.txt"))


def test_declaring_a_kind_twice_is_refused(toy_format: Path) -> None:
    with pytest.raises(ValueError, match="declared twice"):
        formats.declare("toy", reader="x", suffixes=(), dialects=(), label="X")(
            lambda path, head: False)
