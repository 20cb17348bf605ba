"""Keras 3 native ``.keras`` zips: ``config.json``, ``metadata.json`` and ``model.weights.h5``.

Nothing is extracted to disk. The JSON members are small and read into memory (bounded).
``model.weights.h5`` is opened by h5py through a file-like object: Keras writes it *stored*
(uncompressed), so we hand h5py a window onto the zip's own bytes and it reads only the
metadata it needs (a 500 MB member costs what a 50 KB one does). A deflated member (a zip
re-packed by another tool) is read into memory when small, else through zipfile's seekable
stream (slow, but bounded in memory). Members claiming absurd sizes are refused.

Weights in ``model.weights.h5`` are keyed by paths derived from class names, not layer names
(``layers/conv2d_1/vars/0``, ``layers/sequential/layers/dense/vars/1``): Keras names each
entry of a model's ``layers`` list ``to_snake_case(class name)``, made unique in order. We
replay that naming over the config to map every path back to the layer it belongs to.
"""
from __future__ import annotations

import contextlib
import io
import re
import struct
import zipfile
from dataclasses import replace
from typing import Any, Mapping, Optional

#: What reading needs imported: a process that forks isolated readers imports it once first.
PRELOAD = ("h5py", f"{__package__}.keras_h5", f"{__package__}.keras_config",
           f"{__package__}.keras_container")

from .. import limits, sources
from ..errors import UnreadableArtifact, first_line
from ..findings import Code, Severity
from ..ir import Graph, ReaderFinding, WeightSpec
from .keras_config import MODEL_CLASSES, graph_from_keras_config
from .keras_container import (is_optimizer_path, keras_major, optimizer_state_finding,
                               parse_config_json, producer_name, vars_tensors)

#: JSON members larger than this are not something Keras wrote.
MAX_JSON_BYTES = 256 * 1024 * 1024
#: No member of a model zip is larger than this (1 TiB).
MAX_MEMBER_BYTES = 2**40
#: A deflated weights member up to this size is simply read into memory.
MAX_IN_MEMORY = 64 * 1024 * 1024
#: Compression ratios above this mean a zip bomb, not a model.
MAX_RATIO = 1000
MAX_MEMBERS = 100_000


def read(path: str) -> Graph:
    try:
        zf = zipfile.ZipFile(sources.open_binary(path) if sources.is_url(path) else path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableArtifact(f"not a readable zip file ({exc})", path) from None
    with zf, (zf.fp if sources.is_url(path) else contextlib.nullcontext()):
        try:
            return _read_zip(zf, path)
        except UnreadableArtifact:
            raise
        except (KeyError, ValueError, TypeError, OSError, RuntimeError, AttributeError,
                zipfile.BadZipFile, EOFError, struct.error) as exc:
            raise UnreadableArtifact(f"malformed .keras file ({first_line(exc)})", path) from None


def _read_zip(zf: zipfile.ZipFile, path: str) -> Graph:
    infos = {i.filename: i for i in _checked_members(zf, path)}
    if "config.json" not in infos:
        raise UnreadableArtifact("zip holds no config.json (not a .keras model)", path)
    config = _json_member(zf, infos["config.json"], path)
    metadata = _json_member(zf, infos["metadata.json"], path) if "metadata.json" in infos else {}
    version = metadata.get("keras_version") if isinstance(metadata, Mapping) else None
    producer = producer_name(version)
    weights: dict[str, list[WeightSpec]] = {}
    findings: list[ReaderFinding] = []
    stored_optimizer: tuple[WeightSpec, ...] = ()
    if "model.weights.h5" in infos:
        with _open_member(zf, infos["model.weights.h5"], path) as fh:
            weights, unplaced, stored_optimizer = weights_by_layer(fh, config, path)
        if unplaced:
            findings.append(ReaderFinding(
                Code.WEIGHTS_UNPLACED, Severity.WARNING, None,
                f"{len(unplaced)} weight tensor(s) in model.weights.h5 match no layer of the "
                f"config (e.g. {unplaced[0]}); they are reported as loose weights"))
        if stored_optimizer:
            findings.append(optimizer_state_finding(stored_optimizer))
    else:
        findings.append(ReaderFinding(Code.NO_WEIGHTS, Severity.INFO, None,
                                      "the zip stores no model.weights.h5"))
    major = keras_major(version, default=3)
    graph = graph_from_keras_config(config, weights, path=path, format="keras-zip",
                                    producer=producer, keras_major=major)
    if findings or stored_optimizer:
        graph = replace(graph, findings=graph.findings + tuple(findings),
                        stored_optimizer=stored_optimizer)
    return graph


def _checked_members(zf: zipfile.ZipFile, path: str) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise UnreadableArtifact(f"zip has more than {MAX_MEMBERS} members", path)
    archive = sources.getsize(path)
    for info in infos:
        if info.file_size > MAX_MEMBER_BYTES or info.compress_size > archive:
            raise UnreadableArtifact(f"zip member {info.filename!r} claims an absurd size "
                                     f"({info.file_size:,} bytes)", path)
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise UnreadableArtifact(f"zip member {info.filename!r} is stored but its sizes "
                                     "disagree", path)
        if (info.compress_type != zipfile.ZIP_STORED and info.file_size > 1024 * 1024
                and info.file_size > MAX_RATIO * max(info.compress_size, 1)):
            raise UnreadableArtifact(f"zip member {info.filename!r} claims to inflate "
                                     f"{info.compress_size:,} bytes to {info.file_size:,}", path)
    return infos


def _json_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> Any:
    if info.file_size > MAX_JSON_BYTES:
        raise UnreadableArtifact(f"{info.filename} is larger than 256 MiB", path)
    if info.filename == "config.json":  # its size from the zip directory, before reading
        limits.check_config_bytes(info.file_size, info.filename, path)
    with zf.open(info) as fh:
        raw = fh.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise UnreadableArtifact(f"{info.filename} is larger than 256 MiB", path)
    return parse_config_json(raw, path)


class _Window(sources.SeekableReader):
    """A read-only, seekable view of ``length`` bytes at ``start`` of an open file."""

    def __init__(self, fh: Any, start: int, length: int) -> None:
        self._fh, self._start, self.size, self.pos = fh, start, length, 0

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self.size - self.pos))
        if n == 0:
            return 0
        self._fh.seek(self._start + self.pos)
        data = self._fh.read(n)
        buffer[:len(data)] = data
        self.pos += len(data)
        return len(data)


class _Member:
    """Context manager giving h5py a seekable file object over one zip member."""

    def __init__(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> None:
        self.zf, self.info, self.path = zf, info, path
        self._raw: Any = None

    def __enter__(self) -> Any:
        info = self.info
        if info.compress_type == zipfile.ZIP_STORED:
            self._raw = sources.open_binary(self.path)
            self._raw.seek(info.header_offset)
            header = self._raw.read(30)
            if len(header) != 30 or header[:4] != b"PK\x03\x04":
                raise UnreadableArtifact(f"zip member {info.filename!r} has no local header",
                                         self.path)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            if start + info.file_size > sources.getsize(self.path):
                raise UnreadableArtifact(f"zip member {info.filename!r} runs past the end of "
                                         "the file", self.path)
            return _Window(self._raw, start, info.file_size)
        if info.file_size <= MAX_IN_MEMORY:
            with self.zf.open(info) as fh:
                return io.BytesIO(fh.read(MAX_IN_MEMORY + 1))
        self._raw = self.zf.open(info)  # seekable (re-inflates on backward seeks)
        return self._raw

    def __exit__(self, *exc: Any) -> None:
        if self._raw is not None:
            self._raw.close()


def _open_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> _Member:
    return _Member(zf, info, path)


# --------------------------------------------------------------------------- weights

def weights_by_layer(fileobj: Any, config: Any, path: str
                     ) -> tuple[dict[str, list[WeightSpec]], list[str], tuple[WeightSpec, ...]]:
    """Stored weight specs per top-level layer name from a Keras 3 weights file (a
    ``model.weights.h5`` or a ``.weights.h5``), the paths no layer of ``config`` claims, and
    the optimizer's variables (``optimizer/vars``: state saved after training, not params)."""
    import h5py

    try:
        f = h5py.File(fileobj, "r")
    except Exception as exc:  # libhdf5 raises many types for malformed files
        raise UnreadableArtifact(f"model.weights.h5 is not readable HDF5 ({first_line(exc)})",
                                 path) from None
    with f:
        tensors = list(vars_tensors(f))
    owners = layer_paths(config) if isinstance(config, Mapping) else {}
    prefixes = sorted(owners, key=len, reverse=True)
    result: dict[str, list[WeightSpec]] = {}
    unplaced: list[str] = []
    optimizer: list[WeightSpec] = []
    for wpath, spec in tensors:
        owner = next((p for p in prefixes if wpath.startswith(p + "/")), None)
        if owner is None and is_optimizer_path(wpath):
            optimizer.append(replace(spec, name=wpath, trainable=False))
            continue
        if owner is None:
            unplaced.append(wpath)
            result.setdefault(wpath.rsplit("/vars/", 1)[0], []).append(spec)
            continue
        top, inner = owners[owner]
        rel = wpath[len(owner) + 1:].replace("vars/", "")
        # Named like the .h5's weight_names: "<layer>/<var>" ("<inner layer>/<var>" inside
        # a nested model); the var is Keras's index, which pairing renames.
        name = f"{inner or top}/{rel}"
        result.setdefault(top, []).append(WeightSpec(name=name, shape=spec.shape,
                                                     dtype=spec.dtype))
    return result, unplaced, tuple(optimizer)


def to_snake_case(name: str) -> str:
    """keras.src.utils.naming.to_snake_case."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def layer_paths(model_config: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Weights-file path of every layer -> (top-level layer name, innermost layer name or
    "" for a top-level layer), replaying Keras 3's class-derived naming over the config."""
    out: dict[str, tuple[str, str]] = {}
    stack: list[tuple[Mapping[str, Any], str, Optional[str], int]] = [(model_config, "", None, 0)]
    while stack:
        spec, prefix, top, depth = stack.pop()
        if depth > 32:
            continue
        cfg = spec.get("config")
        layers = cfg.get("layers") if isinstance(cfg, Mapping) else cfg
        if not isinstance(layers, list):
            continue
        used: dict[str, int] = {}
        for layer in layers:
            if not isinstance(layer, Mapping) or not isinstance(layer.get("class_name"), str):
                continue
            cls = layer["class_name"]
            if spec.get("class_name") == "Sequential" and cls == "InputLayer":
                continue  # Sequential.layers leaves its InputLayer out
            base = to_snake_case(cls)
            if base in used:
                used[base] += 1
                base = f"{base}_{used[base]}"
            else:
                used[base] = 0
            lcfg = layer.get("config")
            name = layer.get("name") or (lcfg.get("name") if isinstance(lcfg, Mapping) else None)
            if not isinstance(name, str):
                continue
            lpath = f"{prefix}layers/{base}"
            owner = top if top is not None else name
            out[lpath] = (owner, "" if top is None else name)
            if cls in MODEL_CLASSES:
                stack.append((layer, lpath + "/", owner, depth + 1))
    return out
