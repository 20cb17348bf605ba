"""Format readers. ``load(path)`` detects an artifact's kind by content and returns its Graph.

One module per artifact kind; each exposes ``read(path) -> Graph``. Detection looks at magic
bytes and folder contents, not at the extension alone, and no reader is imported before it is
needed.
"""
from __future__ import annotations

import importlib
from typing import Callable, Optional

from .. import sources
from ..errors import UnreadableArtifact
from ..ir import Graph

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"

#: kind -> module implementing read(path). Detectors below pick the kind.
READERS: dict[str, str] = {
    "keras-h5": "analyzer.formats.keras_h5",
    "onnx": "analyzer.formats.onnx_reader",
    "savedmodel": "analyzer.formats.savedmodel",
    "keras-zip": "analyzer.formats.keras_zip",
}

Detector = Callable[[str, bytes], Optional[str]]
DETECTORS: list[Detector] = []


def detector(fn: Detector) -> Detector:
    DETECTORS.append(fn)
    return fn


@detector
def _hdf5(path: str, head: bytes) -> Optional[str]:
    # HDF5's superblock may also sit at 512, 1024, 2048... (user block); Keras never uses one.
    return "keras-h5" if head.startswith(HDF5_MAGIC) else None


@detector
def _savedmodel(path: str, head: bytes) -> Optional[str]:
    # The folder, or its saved_model.pb / saved_model.pbtxt.
    from .savedmodel import saved_model_dir

    return "savedmodel" if saved_model_dir(path) else None


@detector
def _onnx(path: str, head: bytes) -> Optional[str]:
    # ONNX has no magic: the first top-level fields must parse as ModelProto fields (after
    # the magic-byte detectors above, so an HDF5 file named .onnx is reported as HDF5).
    if not head or head.startswith((HDF5_MAGIC, ZIP_MAGIC)):
        return None
    from .onnx_wire import looks_like_model
    return "onnx" if looks_like_model(path) else None


@detector
def _keras_zip(path: str, head: bytes) -> Optional[str]:
    """A zip with a config.json member: Keras 3's native .keras format."""
    if not head.startswith(ZIP_MAGIC):
        return None
    import zipfile
    try:
        with sources.open_binary(path) as fh, zipfile.ZipFile(fh) as zf:
            return "keras-zip" if "config.json" in zf.namelist() else None
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def detect(path: str) -> str:
    """The artifact kind at ``path``, or UnreadableArtifact saying why there is none."""
    if not sources.exists(path):
        raise UnreadableArtifact("no such file or folder", path)
    head = b""
    if sources.isfile(path):
        try:
            with sources.open_binary(path) as fh:
                head = fh.read(64)
        except OSError as exc:
            raise UnreadableArtifact(f"cannot be read ({exc.strerror})", path) from None
        if not head:
            raise UnreadableArtifact("the file is empty", path)
    for fn in DETECTORS:
        kind = fn(path, head)
        if kind:
            return kind
    if sources.isdir(path):
        raise UnreadableArtifact("folder holds no model memscan can read", path)
    raise UnreadableArtifact("not a model memscan can read (expected Keras .h5/.keras, "
                             "SavedModel or ONNX)", path)


def load(path: str, **options: object) -> Graph:
    """Read the artifact at ``path`` into a format-neutral Graph.

    ``options`` (e.g. ``signature`` for SavedModel) go to readers that take them; unset
    (None) options are not passed, so readers without options keep ``read(path)``.
    """
    sources.reset(count=False)
    try:
        kind = detect(path)
        module = importlib.import_module(READERS[kind])
        given = {k: v for k, v in options.items() if v is not None}
        graph = module.read(path, **given) if given else module.read(path)
        if sources.is_url(path):
            sources.verify_unchanged()
    except Exception:
        if sources.failure():  # the transport failed: say that, not what h5py made of it
            raise UnreadableArtifact(sources.failure() or "", path) from None
        raise
    return graph
