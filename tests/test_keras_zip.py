"""The native .keras zip: same report as the .h5 of the same model, read in place, refusing
zips that claim absurd sizes; and weights-only files from both Keras generations."""
from __future__ import annotations

import dataclasses
import struct
import zipfile
from pathlib import Path

import pytest

from analyzer.analysis import analyse
from analyzer.formats import detect
from analyzer.inputs import InputArg

from conftest import FIXTURES, cli_json, run_cli

ZIPS = FIXTURES / "keras_zip"
PAIRS = sorted(p.stem for p in ZIPS.glob("*.keras"))
#: A second input per model (and the input of models saved without a fixed size).
INPUTS = {
    "multi_io": [[(24,), (24,)]], "seq_mix": [[(33,)]], "misc_mix": [[(50, 70, 3)]],
    "layer_mix": [[(48, 64, 3)]], "flatten_dense": [[(80, 96, 3)]],
    "convnexttiny": [[(256, 192, 3)]], "mobilenetv3small": [[(224, 224, 3)], [(256, 192, 3)]],
}


def _comparable(report) -> dict:
    data = dataclasses.asdict(report)
    data.pop("model")
    return data


@pytest.mark.parametrize("name", PAIRS)
def test_keras_zip_equals_h5(name: str) -> None:
    assert detect(str(ZIPS / f"{name}.keras")) == "keras-zip"
    cases = INPUTS[name] if name == "mobilenetv3small" else [None, *INPUTS[name]]
    for shapes in cases:
        inputs = [InputArg(None, s) for s in shapes] if shapes else []
        a = analyse(str(ZIPS / f"{name}.keras"), inputs=inputs)
        b = analyse(str(ZIPS / f"{name}.h5"), inputs=inputs)
        assert a.model.format == "keras-zip" and b.model.format == "keras-h5"
        assert _comparable(a) == _comparable(b), (name, shapes)
        assert a.totals.stored_params == b.totals.stored_params > 0
        if shapes is None:
            assert a.totals.stored_params == a.totals.params
        assert a.totals.layers_with_unknown_shapes == 0


def test_every_pair_covered() -> None:
    assert set(PAIRS) == set(INPUTS) and len(PAIRS) >= 7


def test_weights_member_is_read_in_place(tmp_path: Path) -> None:
    """Stored members are read through a window onto the zip; deflated ones still work."""
    src = ZIPS / "seq_mix.keras"
    with zipfile.ZipFile(src) as zf:
        assert zf.getinfo("model.weights.h5").compress_type == zipfile.ZIP_STORED
        deflated = tmp_path / "deflated.keras"
        with zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as out:
            for info in zf.infolist():
                out.writestr(info.filename, zf.read(info))
    assert _comparable(analyse(str(deflated))) == _comparable(analyse(str(src)))


def _zip_with_lying_size(tmp_path: Path, compression: int) -> Path:
    src = ZIPS / "flatten_dense.keras"
    path = tmp_path / f"lying{compression}.keras"
    with zipfile.ZipFile(src) as zf, zipfile.ZipFile(path, "w", compression=compression) as out:
        for info in zf.infolist():
            data = zf.read(info)
            if info.filename == "model.weights.h5":
                data = b"\0" * 2_000_000
            out.writestr(info.filename, data)
    raw = bytearray(path.read_bytes())
    # Patch the central directory entry of model.weights.h5: uncompressed size -> ~4 GiB.
    at = raw.find(b"PK\x01\x02" + raw[raw.find(b"PK\x01\x02") + 4:][:0])
    while at != -1:
        name_len = struct.unpack("<H", raw[at + 28:at + 30])[0]
        if raw[at + 46:at + 46 + name_len] == b"model.weights.h5":
            raw[at + 24:at + 28] = struct.pack("<I", 0xFFFFFF00)
        at = raw.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_absurd_member_sizes_are_refused(tmp_path: Path, compression: int) -> None:
    path = _zip_with_lying_size(tmp_path, compression)
    proc = run_cli(str(path))
    assert proc.returncode == 2, proc.stderr
    assert "model.weights.h5" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_zip_without_config_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    proc = run_cli(str(path))
    assert proc.returncode == 2 and "not a model memscan can read" in proc.stderr


@pytest.mark.parametrize("filename", ["keras3_seq_mix.weights.h5", "tf_keras_seq_mix_weights.h5"])
def test_weights_only_files(filename: str) -> None:
    """save_weights files: every layer's weights and bytes, no-architecture, exit 0."""
    data = cli_json(str(ZIPS / filename))
    full = analyse(str(FIXTURES / "keras3" / "seq_mix.h5"))
    assert [f["code"] for f in data["findings"]] == ["no-architecture"]
    assert data["totals"]["params"] == full.totals.params == 22_855
    assert data["totals"]["param_bytes"] == 4 * 22_855
    want = {r.name: r.params for r in full.layers if r.params}
    assert {r["name"]: r["params"] for r in data["layers"]} == want


def test_stored_weights_are_never_read_through_zipfile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored model.weights.h5 (as Keras writes it) is opened in place, never inflated or
    copied into memory by zipfile: a 500 MB member costs what its metadata does."""
    original = zipfile.ZipFile.open

    def guarded(self, name, *args, **kwargs):
        filename = name.filename if isinstance(name, zipfile.ZipInfo) else name
        assert filename != "model.weights.h5", "the weights member was read through zipfile"
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", guarded)
    report = analyse(str(ZIPS / "convnexttiny.keras"))
    assert report.totals.stored_params == report.totals.params == 28_589_128
