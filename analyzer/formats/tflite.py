"""TensorFlow Lite flatbuffers (.tflite) -> Graph (dialect "tflite").

Read through the official schema (the ``tflite`` package: flatc-generated accessors) over a
read-only memory map, so only the tables and vectors metadata needs are touched:

- the main subgraph (signature ``serving_default``'s, else subgraph 0): its tensors (shape,
  shape_signature, dtype, quantization parameter counts, buffer), operators in execution order
  (builtin code and options, or a custom code), inputs and outputs;
- constant tensors (a buffer with bytes, inside the flatbuffer or, for files over 2 GB, at an
  offset after it) are weights: their element counts and dtypes, never their values. Buffer
  sizes come from the vector length or the offset table entry, not from reading the data;
- the values of small integer constants (at most ``MAX_CONST_VALUES`` elements: a RESHAPE's
  new shape, PAD's paddings, STRIDED_SLICE's begin/end/strides) are read, as shape rules need
  them, like ONNX's constant inputs.

Every count and size is checked against the file's own size before it is walked, so a
hostile file gives one line saying what is wrong, never a traceback or a long loop.
"""
from __future__ import annotations

import mmap
import os
import re
import struct
from typing import Any, Optional

from .. import sources
from ..errors import UnreadableArtifact
from ..findings import Code, Severity
from ..engine_inputs import TfliteModel
from ..ir import TFLITE, Graph, Node, ReaderFinding, TensorSpec, WeightSpec

#: The flatbuffer file identifier TFLite writes at bytes 4..8.
IDENTIFIER = b"TFL3"
MAX_RANK = 16
MAX_CONST_VALUES = 64
MAX_OPTION_ITEMS = 64
#: TensorType enum -> numpy-style dtype names (schema.fbs order).
DTYPES = ("float32", "float16", "int32", "uint8", "int64", "string", "bool", "int16",
          "complex64", "int8", "float64", "complex128", "uint64", "resource", "variant",
          "uint32", "uint16", "int4", "bfloat16")
_INT_FORMATS = {"int32": "<i", "int64": "<q", "int16": "<h", "int8": "<b", "uint8": "<B"}
#: A per-axis quantized tensor has more than this many scales (reported, not needed).
_UNREADABLE = (struct.error, IndexError, ValueError, TypeError, OverflowError,
               UnicodeDecodeError, AttributeError, MemoryError)


def read(path: str) -> Graph:
    view = _remote_bytes(path) if sources.is_url(path) else _mapped(path)
    size = len(view)
    if size < 16:
        raise UnreadableArtifact("the TFLite file is too short to hold a model", path)
    try:
        return _Reader(path, view, size).graph()
    except UnreadableArtifact:
        raise
    except RecursionError:
        raise UnreadableArtifact("the TFLite flatbuffer nests too deeply", path) from None
    except _UNREADABLE as exc:
        raise UnreadableArtifact(f"the TFLite flatbuffer is malformed ({type(exc).__name__}: "
                                 f"{str(exc)[:100]})", path) from None
    finally:
        if isinstance(view, mmap.mmap):
            view.close()


def _mapped(path: str) -> mmap.mmap:
    """A read-only map of a local file: only the pages the accessors touch are read."""
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size < 16:
                raise UnreadableArtifact("the TFLite file is too short to hold a model", path)
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise UnreadableArtifact(f"cannot be read ({exc.strerror})", path) from None


def _remote_bytes(path: str) -> bytes:
    """A URL's whole file: the flatbuffer accessors need random access to one buffer, and
    a TFLite file keeps its weights inline between the tables, so there is no metadata-only
    range to fetch (docs/remote.md). ``bytes_read`` reports the transfer."""
    try:
        with sources.open_binary(path) as fh:
            return fh.read()
    except OSError as exc:
        raise UnreadableArtifact(f"cannot be read ({exc.strerror or exc})", path) from None


class _Reader:
    def __init__(self, path: str, buf: "mmap.mmap | bytes", size: int) -> None:
        import tflite  # the schema's generated accessors (pure Python)

        self.tfl = tflite
        self.path = path
        self.buf = buf
        self.size = size
        self.model = tflite.Model.GetRootAs(buf, 0)
        self.findings: list[ReaderFinding] = []

    def fail(self, what: str) -> UnreadableArtifact:
        return UnreadableArtifact(what, self.path)

    def count(self, n: int, what: str, per_item: int = 4) -> int:
        """``n`` items of at least ``per_item`` bytes each must fit in the file."""
        if n < 0 or n * per_item > self.size:
            raise self.fail(f"the TFLite file claims {n:,} {what}, more than its "
                            f"{self.size:,} bytes can hold")
        return n

    # -- op codes ---------------------------------------------------------------------
    def op_names(self) -> list[tuple[str, str]]:
        """(op name, origin) per operator code: a builtin's schema name, or a custom code."""
        from tflite.utils import BUILTIN_OPCODE2NAME

        out = []
        for i in range(self.count(self.model.OperatorCodesLength(), "operator codes")):
            oc = self.model.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            if code == 32:  # CUSTOM
                custom = (oc.CustomCode() or b"").decode("utf-8", "replace")[:200]
                out.append((custom or "CUSTOM", "custom"))
            else:
                out.append((BUILTIN_OPCODE2NAME.get(code, f"BUILTIN_{code}"), "builtin"))
        return out

    # -- buffers ----------------------------------------------------------------------
    def buffer_bytes(self, index: int) -> int:
        """Bytes the buffer stores: its vector's length, or its offset-table size."""
        n = self.model.BuffersLength()
        if index <= 0 or index >= n:
            return 0
        b = self.model.Buffers(index)
        if b is None:
            return 0
        if b.Offset() > 1:
            return b.Size()
        return b.DataLength()

    def buffer_ints(self, index: int, dtype: str, elements: int) -> Optional[tuple[int, ...]]:
        """The values of a small integer constant, else None."""
        fmt = _INT_FORMATS.get(dtype)
        if fmt is None or elements > MAX_CONST_VALUES:
            return None
        b = self.model.Buffers(index)
        width = struct.calcsize(fmt)
        if b.Offset() > 1:
            start, length = b.Offset(), b.Size()
            if start + length > self.size:
                return None
            raw = bytes(self.buf[start:start + min(length, elements * width)])
        else:
            if b.DataLength() < elements * width:
                return None
            pos = b._tab.Vector(b._tab.Offset(4))
            raw = bytes(self.buf[pos:pos + elements * width])
        if len(raw) < elements * width:
            return None
        return tuple(v[0] for v in struct.iter_unpack(fmt, raw))

    # -- options ----------------------------------------------------------------------
    def options(self, op: Any) -> dict[str, Any]:
        """The builtin options table as a dict (``stride_w``, ``padding``, ...)."""
        kind = op.BuiltinOptionsType()
        if not kind:
            return {}
        names = {v: k for k, v in vars(self.tfl.BuiltinOptions).items()
                 if isinstance(v, int) and not k.startswith("_")}
        cls = getattr(self.tfl, names.get(kind, ""), None)
        table = op.BuiltinOptions()
        if cls is None or table is None:
            return {}
        opts = cls()
        opts.Init(table.Bytes, table.Pos)
        return _fields(opts)

    # -- the graph --------------------------------------------------------------------
    def graph(self) -> Graph:
        m = self.model
        n_sub = self.count(m.SubgraphsLength(), "subgraphs")
        if n_sub == 0:
            raise self.fail("the TFLite model has no subgraph")
        self.count(m.BuffersLength(), "buffers")
        sig_names, sub_index = self.signature()
        if sub_index >= n_sub:
            raise self.fail(f"the signature names subgraph {sub_index}, but the model has "
                            f"{n_sub}")
        if n_sub > 1:
            self.findings.append(ReaderFinding(
                Code.TFLITE_SUBGRAPHS, Severity.INFO, None,
                f"the model has {n_sub} subgraphs; subgraph {sub_index} is analysed (the others "
                "are control-flow bodies or other signatures)", {"subgraphs": n_sub}))
        sg = m.Subgraphs(sub_index)
        ops = self.op_names()
        n_tensors = self.count(sg.TensorsLength(), "tensors")
        tensors = [self.tensor(sg.Tensors(i), i) for i in range(n_tensors)]
        ids = _unique_ids([t["name"] for t in tensors])
        consumed_by: dict[int, str] = {}
        nodes: list[Node] = []
        inputs = [self.index(sg.Inputs(j), n_tensors)
                  for j in range(self.count(sg.InputsLength(), "inputs"))]
        outputs = [self.index(sg.Outputs(j), n_tensors)
                   for j in range(self.count(sg.OutputsLength(), "outputs"))]
        specs = tuple(TensorSpec(ids[i], tensors[i]["shape"], tensors[i]["dtype"],
                                 resizable=True) for i in inputs)
        for i in inputs:
            nodes.append(Node(name=ids[i], op="InputLayer", layer=ids[i], inputs=(),
                              outputs=(ids[i],), dtype=tensors[i]["dtype"], origin="graph input"))
        used = set(ids[i] for i in inputs)
        n_ops = self.count(sg.OperatorsLength(), "operators")
        for k in range(n_ops):
            nodes.append(self.node(sg.Operators(k), k, ops, tensors, ids, consumed_by, used))
        # Constants and variable tensors (an LSTM's state) keep their stored shapes.
        const_shapes = {ids[i]: t["shape"] for i, t in enumerate(tensors)
                        if t["constant"] or t["variable"]}
        const_values = {ids[i]: t["values"] for i, t in enumerate(tensors)
                        if t["values"] is not None}
        dtypes = {ids[i]: t["dtype"] for i, t in enumerate(tensors)}
        stored = {ids[i]: t["shape"] for i, t in enumerate(tensors) if not t["constant"]}
        stored_inputs = {ids[i]: tensors[i]["shape"] for i in inputs}
        self.note_quantization(tensors)
        loose = tuple(WeightSpec(ids[i], t["shape"], t["dtype"], trainable=False)
                      for i, t in enumerate(tensors)
                      if t["constant"] and i not in consumed_by)
        return Graph(
            format="tflite", producer=self.producer(), name=sig_names or "main",
            inputs=specs, outputs=tuple(ids[i] for i in outputs), nodes=tuple(nodes),
            findings=tuple(self.findings),
            dialect=TFLITE,
            engine_input=TfliteModel(const_shapes, const_values, stored, stored_inputs),
            known_dtypes=dtypes, loose_weights=loose, batch_first=False)

    def index(self, i: int, n: int) -> int:
        if not 0 <= i < n:
            raise self.fail(f"a tensor index {i} is outside the subgraph's {n} tensors")
        return i

    def signature(self) -> tuple[str, int]:
        m = self.model
        n = self.count(m.SignatureDefsLength(), "signature defs")
        sigs = [m.SignatureDefs(i) for i in range(n)]
        for s in sigs:
            if (s.SignatureKey() or b"") == b"serving_default":
                return "serving_default", s.SubgraphIndex()
        if sigs:
            return (sigs[0].SignatureKey() or b"").decode("utf-8", "replace")[:100], \
                sigs[0].SubgraphIndex()
        return "", 0

    def producer(self) -> str:
        desc = (self.model.Description() or b"").decode("utf-8", "replace")[:80]
        return f"{desc or 'tflite'} (schema v{self.model.Version()})"

    def tensor(self, t: Any, i: int) -> dict[str, Any]:
        rank = t.ShapeLength()
        if rank > MAX_RANK:
            raise self.fail(f"tensor {i} has rank {rank} (at most {MAX_RANK} is supported)")
        shape = tuple(int(t.Shape(j)) for j in range(rank))
        if any(d < 0 for d in shape):
            raise self.fail(f"tensor {i} has a negative dim in its stored shape {list(shape)}")
        kind = t.Type()
        dtype = DTYPES[kind] if 0 <= kind < len(DTYPES) else f"tflite-type-{kind}"
        buf = t.Buffer()
        nbytes = self.buffer_bytes(buf)
        name = (t.Name() or b"").decode("utf-8", "replace")[:4000] or f"tensor_{i}"
        q = t.Quantization()
        scales = q.ScaleLength() if q is not None else 0
        values = None
        if nbytes > 0:
            n = 1
            for d in shape:
                n *= d
            values = self.buffer_ints(buf, dtype, n)
        return {"name": name, "shape": shape, "dtype": dtype, "constant": nbytes > 0,
                "bytes": nbytes, "variable": bool(t.IsVariable()), "scales": scales,
                "values": values}

    def note_quantization(self, tensors: list[dict[str, Any]]) -> None:
        quantized = [t for t in tensors if t["scales"] > 0]
        if quantized:
            per_axis = sum(1 for t in quantized if t["scales"] > 1)
            self.findings.append(ReaderFinding(
                Code.TFLITE_QUANTIZED, Severity.INFO, None,
                f"{len(quantized)} tensors are quantized ({per_axis} per axis); param bytes are "
                "their stored integer bytes (scales and zero points are metadata, not counted)",
                {"quantized_tensors": len(quantized), "per_axis": per_axis}))

    def node(self, op: Any, k: int, ops: list[tuple[str, str]], tensors: list[dict[str, Any]],
             ids: list[str], consumed_by: dict[int, str], used: set[str]) -> Node:
        code = op.OpcodeIndex()
        if not 0 <= code < len(ops):
            raise self.fail(f"operator {k} names operator code {code}, but the model has "
                            f"{len(ops)}")
        name, origin = ops[code]
        n = len(tensors)
        ins = [op.Inputs(j) for j in range(self.count(op.InputsLength(), "operator inputs"))]
        outs = [self.index(op.Outputs(j), n)
                for j in range(self.count(op.OutputsLength(), "operator outputs"))]
        in_ids = tuple("" if i < 0 else ids[self.index(i, n)] for i in ins)
        config: dict[str, Any] = self.options(op) if origin == "builtin" else {}
        consts = {str(j): tensors[i]["values"] for j, i in enumerate(ins)
                  if i >= 0 and tensors[i]["values"] is not None}
        if consts:
            config["const_inputs"] = consts
        weights = []
        for i in ins:
            if i >= 0 and tensors[i]["constant"] and i not in consumed_by:
                row = ids[outs[0]] if outs else f"op_{k}"
                consumed_by[i] = row
                t = tensors[i]
                weights.append(WeightSpec(ids[i], t["shape"], t["dtype"], trainable=False))
        row = ids[outs[0]] if outs else f"{name}_{k}"
        if row in used:
            row = f"{row}#{k}"
        used.add(row)
        dtype = tensors[outs[0]]["dtype"] if outs else "float32"
        return Node(name=row, op=name, layer=row, inputs=in_ids,
                    outputs=tuple(ids[i] for i in outs), config=config, weights=tuple(weights),
                    origin=origin, dtype=dtype)


def _fields(opts: Any) -> dict[str, Any]:
    """Every scalar and small vector field of a generated options table, snake_cased."""
    cls = type(opts)
    out: dict[str, Any] = {}
    for attr in dir(cls):
        if attr.startswith("_") or attr in ("Init",) or attr.startswith("GetRootAs") or \
                attr.endswith(("IsNone", "AsNumpy", "BufferHasIdentifier", "Length")):
            continue
        fn = getattr(opts, attr)
        if not callable(fn):
            continue
        key = re.sub(r"(?<!^)(?=[A-Z])", "_", attr).lower()
        if hasattr(cls, attr + "Length"):
            n = min(getattr(opts, attr + "Length")(), MAX_OPTION_ITEMS)
            out[key] = tuple(fn(j) for j in range(n))
            continue
        try:
            value = fn()
        except TypeError:
            continue
        if isinstance(value, (int, float, bool)):
            out[key] = value
    return out


def _unique_ids(names: list[str]) -> list[str]:
    """Tensor names as ids; a repeated (or empty) name gets its tensor index appended."""
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    return [n if seen[n] == 1 else f"{n}#{i}" for i, n in enumerate(names)]
