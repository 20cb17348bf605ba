"""The format-neutral graph every reader produces and everything after the readers consumes.

Nothing in here knows about HDF5, zip members or protobuf. A reader turns an artifact into a
`Graph`; shape rules, memory figures, checks and renderers only ever see these classes.

Conventions
- Shapes are tuples of Python ints, with ``None`` for a dim that is not known. Activation
  shapes include the batch as their first dim (channels-last Keras) or wherever the format
  puts it (ONNX: the full tensor shape as stated by the graph).
- Weight shapes never include a batch and are always fully known.
- dtypes are numpy-style names: ``"float32"``, ``"float16"``, ``"bfloat16"``, ``"int8"`` ...
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

Shape = tuple[Optional[int], ...]

#: Bytes per element of every dtype a reader may report. A dtype not listed here counts as 0
#: bytes: its tensors are left out of every figure, which the ``unknown-dtype`` finding names
#: (so the figures are "at least"), never guessed silently.
DTYPE_BYTES: dict[str, int] = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2,
    "float8_e4m3fn": 1, "float8_e4m3fnuz": 1, "float8_e5m2": 1, "float8_e5m2fnuz": 1,
    "int64": 8, "int32": 4, "int16": 2, "int8": 1,
    "uint64": 8, "uint32": 4, "uint16": 2, "uint8": 1,
    "int4": 1, "uint4": 1,  # packed two per byte on disk; counted per element as 1 byte here
    "bool": 1, "complex64": 8, "complex128": 16, "string": 8, "resource": 8, "variant": 8,
}


#: The dtype a reader gives a tensor whose element type the file does not state.
UNKNOWN_DTYPE = "unknown"
#: Stored tensors of these dtypes are index data (shape vectors, indices, counters such as a
#: TF1 ``global_step``), never params: docs/corpus.md "What counts as a param".
INDEX_DTYPES = frozenset({"int32", "int64", "bool", "string"})


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of ``dtype``; 0 for a name we do not know (left out, and reported by
    the ``unknown-dtype`` check)."""
    return DTYPE_BYTES.get(dtype, 0)


def dtype_known(dtype: str) -> bool:
    return dtype in DTYPE_BYTES


def num_elements(shape: Shape) -> Optional[int]:
    """Exact element count as a Python int, or None when any dim is unknown."""
    if any(d is None for d in shape):
        return None
    return math.prod(shape)  # type: ignore[arg-type]


@dataclass(frozen=True)
class WeightSpec:
    """One stored weight tensor: its name, shape and dtype. Never its values."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    trainable: bool = True

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * dtype_bytes(self.dtype)


@dataclass(frozen=True)
class TensorSpec:
    """A graph input (or a known tensor): name, shape with ``None`` for unknown dims, dtype.

    ``dim_names`` holds a symbolic name per dim where the format has one (ONNX ``dim_param``),
    else None, so ``--dim height=1024`` can bind it.
    """

    name: str
    shape: Shape
    dtype: str = "float32"
    dim_names: tuple[Optional[str], ...] = ()
    #: False when the file states no shape at all (ONNX tensor type without ``shape``):
    #: ``shape`` is then empty and the rank must come from ``--input``.
    rank_known: bool = True
    #: True when ``shape`` is only the stored default and every dim may be restated with
    #: ``--input`` (TFLite: the interpreter's resize_tensor_input takes any dims).
    resizable: bool = False


@dataclass(frozen=True)
class Node:
    """One call of a layer (Keras) or one op (ONNX, TF).

    ``layer`` groups nodes into report rows: a shared Keras layer called twice gives two nodes
    with the same ``layer`` and one row. ``inputs``/``outputs`` are tensor ids, unique within
    the graph. ``weights`` are the stored weights of the *layer* (attached to its first node
    only, so shared weights are counted once). ``subgraph`` is set for a nested model.
    """

    name: str
    op: str
    layer: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    config: Mapping[str, Any] = field(default_factory=dict)
    weights: tuple[WeightSpec, ...] = ()
    subgraph: Optional["Graph"] = None
    #: Where the op comes from when that matters for findings (Keras ``module`` /
    #: ``registered_name``, ONNX domain). Plain data, never imported.
    origin: str = ""
    #: Activation dtype of the outputs (Keras dtype policy compute dtype, ONNX value type).
    dtype: str = "float32"


@dataclass(frozen=True)
class ReaderFinding:
    """Something a reader noticed that is not fatal (a Lambda layer, a missing weight...)."""

    code: str  # an analyzer/findings.py Code
    severity: str  # an analyzer/findings.py Severity: "error" | "warning" | "info"
    layer: Optional[str]
    message: str
    extra: Mapping[str, Any] = field(default_factory=dict)


#: Op vocabularies (``Graph.dialect``): the same op name means different things in two of them.
KERAS, ONNX, TF_GRAPH, TFLITE = "keras", "onnx", "tf-graph", "tflite"


@dataclass(frozen=True)
class Graph:
    """A whole model, format-neutral. ``nodes`` are in a valid execution (topological) order."""

    format: str  # "keras-h5", "keras-zip", "onnx", "savedmodel"
    producer: str  # e.g. "keras 3.15.1", "tf-keras 2.21.0", "pytorch 2.3"
    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[str, ...]
    nodes: tuple[Node, ...]
    findings: tuple[ReaderFinding, ...] = ()
    #: The op vocabulary of ``nodes`` (``KERAS``, ``ONNX``, ``TF_GRAPH``): it chooses the op
    #: records (shape rules and runtime facts, keyed by dialect and op), the shape engine and
    #: the runtime model. Not the container: a Keras config read from a SavedModel is "keras".
    dialect: str = KERAS
    #: What the dialect's shape engine needs, as plain data (``engine_inputs``: bytes, names,
    #: tables; never a callable): the engine re-shapes the graph at the stated input with it.
    #: None for a dialect without an engine (Keras: the shape rules do all the work).
    engine_input: Any = field(default=None, compare=False, repr=False)
    #: Shapes known whatever the input (by tensor id): a start the engine and the rules
    #: refine. Hand-built graphs state every shape here.
    given_shapes: Mapping[str, Shape] = field(default_factory=dict)
    #: Activation dtype per tensor id where the format states it (ONNX value types).
    known_dtypes: Mapping[str, str] = field(default_factory=dict)
    #: Weights not attached to any node (a weights-only file).
    loose_weights: tuple[WeightSpec, ...] = ()
    #: Optimizer state the file stores (Keras 3 saves its optimizer's variables after
    #: training): real bytes in the file, but no layer's params.
    stored_optimizer: tuple[WeightSpec, ...] = ()
    #: Stored index data no node holds as a param (ONNX int64/int32/bool/string initializers:
    #: shape vectors, indices, axes): bytes in the file, not params.
    index_data: tuple[WeightSpec, ...] = ()
    #: True when the batch is the first dim of every input (Keras); False when the input
    #: shape is given in full (ONNX).
    batch_first: bool = True
    #: Reader options (plain data) that read the same artifact again into another dialect,
    #: for when this graph holds ops no shape rule covers: a SavedModel's Keras config falls
    #: back to its traced TF graph. The pipeline asks the rules, then re-reads; the reader
    #: never asks the rules itself.
    fallback_options: Mapping[str, Any] = field(default_factory=dict)
