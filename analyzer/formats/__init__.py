"""Format readers. ``load(path)`` detects an artifact's kind by content and returns its Graph.

One module per artifact kind; each exposes ``read(path) -> Graph``. Detection looks at magic
bytes and folder contents, not at the extension alone, and no reader is imported before it is
needed.

Adding a format is one reader module and one declaration here: ``@declare(kind, reader=...,
suffixes=..., dialects=..., label=...)`` on its detector. Detection order is declaration order;
discovery's "named like a model" suffixes and the "not a model" message come from the
declarations too.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from .. import sources
from ..errors import UnreadableArtifact
from ..ir import KERAS, ONNX, TF_GRAPH, TFLITE, Graph

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
#: A TFLite flatbuffer's file identifier, at bytes 4..8.
TFLITE_IDENTIFIER = b"TFL3"

#: A detector looks at a path and its first 64 bytes (b"" for a folder) and says whether it
#: is its format. It must be cheap and must not import the reader.
Detector = Callable[[str, bytes], bool]


@dataclass(frozen=True)
class Format:
    """Everything memscan knows about one artifact kind, declared once."""

    #: The kind, as reports name it (``model.format``) and errors/README speak of it.
    kind: str
    #: Module implementing ``read(path[, **options]) -> Graph``; imported only when needed.
    #: Relative to this package (installed as memscan.formats, analyzer.formats in the
    #: repository) or absolute.
    reader: str
    #: Says whether a path is this format (tried in declaration order; first wins).
    detect: Detector
    #: File names that mean "this is meant to be a model" (lowercase): a file so named that
    #: no detector recognises is analysed anyway so that its error is reported, not skipped.
    suffixes: tuple[str, ...]
    #: Graph dialects the reader produces ("keras", "onnx", "tf-graph", ...): which shape
    #: rules and runtime models apply to its graphs.
    dialects: tuple[str, ...]
    #: How the "not a model" message names it, e.g. "ONNX".
    label: str


#: kind -> declaration, in detection order. Adding a format: one reader module and one entry.
FORMATS: dict[str, Format] = {}


def declare(kind: str, *, reader: str, suffixes: tuple[str, ...], dialects: tuple[str, ...],
            label: str) -> Callable[[Detector], Detector]:
    """Declare a format whose detector is the decorated function."""
    def register(detect: Detector) -> Detector:
        if kind in FORMATS:
            raise ValueError(f"format {kind!r} declared twice")
        FORMATS[kind] = Format(kind, reader, detect, suffixes, dialects, label)
        return detect
    return register


@declare("keras-h5", reader=".keras_h5", suffixes=(".h5", ".hdf5"),
         dialects=(KERAS,), label="Keras .h5")
def _hdf5(path: str, head: bytes) -> bool:
    # HDF5's superblock may also sit at 512, 1024, 2048... (user block); Keras never uses one.
    return head.startswith(HDF5_MAGIC)


@declare("savedmodel", reader=".savedmodel", suffixes=(),
         dialects=(KERAS, TF_GRAPH), label="SavedModel")
def _savedmodel(path: str, head: bytes) -> bool:
    # The folder, or its saved_model.pb / saved_model.pbtxt.
    from .savedmodel import saved_model_dir

    return bool(saved_model_dir(path))


@declare("onnx", reader=".onnx_reader", suffixes=(".onnx",),
         dialects=(ONNX,), label="ONNX")
def _onnx(path: str, head: bytes) -> bool:
    # ONNX has no magic: the first top-level fields must parse as ModelProto fields (after
    # the magic-byte detectors above, so an HDF5 file named .onnx is reported as HDF5).
    if not head or head.startswith((HDF5_MAGIC, ZIP_MAGIC)) or head[4:8] == TFLITE_IDENTIFIER:
        return False
    from .onnx_wire import looks_like_model
    return bool(looks_like_model(path))


@declare("keras-zip", reader=".keras_zip", suffixes=(".keras",),
         dialects=(KERAS,), label="Keras .keras")
def _keras_zip(path: str, head: bytes) -> bool:
    """A zip with a config.json member: Keras 3's native .keras format."""
    if not head.startswith(ZIP_MAGIC):
        return False
    import zipfile
    try:
        with sources.open_binary(path) as fh, zipfile.ZipFile(fh) as zf:
            return "config.json" in zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


@declare("tflite", reader=".tflite", suffixes=(".tflite",),
         dialects=(TFLITE,), label="TFLite")
def _tflite(path: str, head: bytes) -> bool:
    # A flatbuffer whose file identifier (bytes 4..8) is TFLite's "TFL3".
    return sources.isfile(path) and head[4:8] == TFLITE_IDENTIFIER


def model_suffixes() -> tuple[str, ...]:
    """Every file suffix that names a model, from the declarations."""
    return tuple(s for f in FORMATS.values() for s in f.suffixes)


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
    for fmt in FORMATS.values():
        if fmt.detect(path, head):
            return fmt.kind
    from .unsupported import identify, reason

    if sources.isdir(path) and identify(path, head) is None:
        raise UnreadableArtifact("folder holds no model memscan can read", path)
    raise UnreadableArtifact(reason(path, head, _expected()), path)


def _expected() -> str:
    """``Keras .h5/.keras, SavedModel or ONNX``: the declared formats, for error messages."""
    labels: list[str] = []
    for fmt in FORMATS.values():
        family, _, ext = fmt.label.partition(" ")
        joined = next((i for i, l in enumerate(labels) if l.startswith(family + " ")), None)
        if ext and joined is not None:
            labels[joined] += "/" + ext
        else:
            labels.append(fmt.label)
    return ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else labels[0]


def load(path: str, **options: object) -> Graph:
    """Read the artifact at ``path`` into a format-neutral Graph.

    ``options`` (e.g. ``signature`` for SavedModel) go to readers that take them; unset
    (None) options are not passed, so readers without options keep ``read(path)``.
    """
    sources.reset(count=False)
    try:
        kind = detect(path)
        module = importlib.import_module(FORMATS[kind].reader, __package__)
        given = {k: v for k, v in options.items() if v is not None}
        graph = module.read(path, **given) if given else module.read(path)
        if sources.is_url(path):
            sources.verify_unchanged()
    except Exception:
        if sources.failure():  # the transport failed: say that, not what h5py made of it
            raise UnreadableArtifact(sources.failure() or "", path) from None
        raise
    return graph
