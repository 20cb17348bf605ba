"""A small, bounded protobuf wire-format walker for ONNX files that never materialises weights.

``strip(path)`` walks ModelProto → GraphProto → NodeProto → AttributeProto → TensorProto (and
subgraphs, functions, sparse tensors) over an mmap of the file and re-emits the model with
every large tensor payload (``raw_data``, ``float_data``, ``int64_data`` ...) left out: dims,
dtypes, names and external-data entries stay. Skipped payloads are only *stepped over* (their
pages are never touched), so the process's RSS does not grow with the file. Small tensors
(at most ``KEEP_ELEMENTS`` elements: Reshape targets, Slice bounds, Resize scales) keep their
values, because shapes may depend on them.

Everything is bounded: a length that runs past its enclosing message, a varint over 10
bytes, a group wire type, nesting deeper than ``MAX_DEPTH`` or a rank over ``MAX_RANK`` raise
UnreadableArtifact. ``looks_like_model(path)`` is the cheap detector: the first top-level
fields must be valid ModelProto fields.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from .. import limits, sources
from ..errors import UnreadableArtifact
from .protowire import WireError, read_varint

KEEP_ELEMENTS = 1024
MAX_DEPTH = 64
MAX_RANK = 1024

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5

# Message kinds and the fields the walker descends into (everything else is copied verbatim).
MODEL, GRAPH, NODE, ATTR, TENSOR, SPARSE, FUNCTION = range(7)
DESCEND: dict[int, dict[int, int]] = {
    MODEL: {7: GRAPH, 25: FUNCTION},
    FUNCTION: {7: NODE},
    GRAPH: {1: NODE, 5: TENSOR, 15: SPARSE},
    NODE: {5: ATTR},
    ATTR: {5: TENSOR, 6: GRAPH, 10: TENSOR, 11: GRAPH, 22: SPARSE, 23: SPARSE},
    SPARSE: {1: TENSOR, 2: TENSOR},
}
#: TensorProto payload fields: float_data, int32_data, string_data, int64_data, raw_data,
#: double_data, uint64_data.
PAYLOAD_FIELDS = frozenset({4, 5, 6, 7, 9, 10, 11})
RAW_DATA = 9

#: ModelProto fields and their wire types (for detection).
MODEL_FIELDS = {1: VARINT, 2: LEN, 3: LEN, 4: LEN, 5: VARINT, 6: LEN, 7: LEN, 8: LEN,
                14: LEN, 20: LEN, 25: LEN}

#: TensorProto.DataType -> (numpy-style name, bytes per element or None when variable).
ONNX_DTYPES: dict[int, tuple[str, Optional[int]]] = {
    1: ("float32", 4), 2: ("uint8", 1), 3: ("int8", 1), 4: ("uint16", 2), 5: ("int16", 2),
    6: ("int32", 4), 7: ("int64", 8), 8: ("string", None), 9: ("bool", 1),
    10: ("float16", 2), 11: ("float64", 8), 12: ("uint32", 4), 13: ("uint64", 8),
    14: ("complex64", 8), 15: ("complex128", 16), 16: ("bfloat16", 2),
    17: ("float8_e4m3fn", 1), 18: ("float8_e4m3fnuz", 1), 19: ("float8_e5m2", 1),
    20: ("float8_e5m2fnuz", 1), 21: ("uint4", None), 22: ("int4", None),
    23: ("float4_e2m1", None),
}


def dtype_name(code: int) -> str:
    return ONNX_DTYPES.get(code, (f"onnx-dtype-{code}", None))[0]


@dataclass
class PayloadProblem:
    """A tensor whose stored payload does not match its declared dims (truncated, hollow)."""

    name: str
    dims: tuple[int, ...]
    dtype: str
    expected_bytes: int
    stored_bytes: int


@dataclass
class Stripped:
    """The model without its large payloads, and what the walk noticed."""

    data: bytes
    file_size: int
    payload_bytes_skipped: int = 0
    tensors_stripped: int = 0
    problems: list[PayloadProblem] = field(default_factory=list)


class _Walker:
    def __init__(self, buf, path: str) -> None:
        self.buf = buf
        self.path = path
        self.out = Stripped(b"", len(buf))

    def bad(self, why: str) -> UnreadableArtifact:
        return UnreadableArtifact(f"malformed ONNX file ({why})", self.path)

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        try:
            return read_varint(self.buf, pos, end)
        except WireError as exc:
            raise self.bad(str(exc)) from None

    def fields(self, start: int, end: int):
        """Yield (field number, wire type, value start, value end or varint value, field start)."""
        pos = start
        while pos < end:
            fstart = pos
            key, pos = self.varint(pos, end)
            num, wt = key >> 3, key & 7
            if num == 0:
                raise self.bad("field number 0")
            if wt == VARINT:
                val, pos = self.varint(pos, end)
                yield num, wt, val, pos, fstart
            elif wt == LEN:
                n, pos = self.varint(pos, end)
                if n > end - pos:
                    raise self.bad(f"a field of {n} bytes runs past the end of its message "
                                   "(truncated file?)")
                yield num, wt, pos, pos + n, fstart
                pos += n
            elif wt == I64 or wt == I32:
                n = 8 if wt == I64 else 4
                if n > end - pos:
                    raise self.bad("truncated fixed-width field")
                yield num, wt, pos, pos + n, fstart
                pos += n
            else:
                raise self.bad(f"unsupported wire type {wt}")

    def count_nodes(self, stop_after: int) -> int:
        """NodeProtos of the main graph, counted from their field keys alone (no descent), up
        to ``stop_after`` + 1: cheap enough to refuse a huge graph before walking it."""
        count = 0
        for num, wt, a, b, _ in self.fields(0, len(self.buf)):
            if num == 7 and wt == LEN:  # ModelProto.graph
                for gnum, gwt, *_ in self.fields(a, b):
                    if gnum == 1 and gwt == LEN:  # GraphProto.node
                        count += 1
                        if count > stop_after:
                            return count
        return count

    def message(self, kind: int, start: int, end: int, depth: int) -> bytes:
        if depth > MAX_DEPTH:
            raise self.bad(f"nesting deeper than {MAX_DEPTH}")
        if kind == TENSOR:
            return self.tensor(start, end)
        descend = DESCEND[kind]
        parts: list[bytes] = []
        run = start  # start of the pending verbatim run
        for num, wt, a, b, fstart in self.fields(start, end):
            sub = descend.get(num)
            if sub is None:
                continue
            if wt != LEN:
                raise self.bad(f"field {num} has wire type {wt}, expected a message")
            parts.append(bytes(self.buf[run:fstart]))
            inner = self.message(sub, a, b, depth + 1)
            parts.append(_key(num, LEN) + _varint(len(inner)) + inner)
            run = b
        parts.append(bytes(self.buf[run:end]))
        return b"".join(parts)

    def tensor(self, start: int, end: int) -> bytes:
        dims: list[int] = []
        dtype = 0
        name = b""
        payload_bytes = 0
        raw_bytes: Optional[int] = None
        external = False
        for num, wt, a, b, _ in self.fields(start, end):
            if num == 1:
                if wt == VARINT:
                    dims.append(_signed(a))
                elif wt == LEN:
                    p = a
                    while p < b:
                        v, p = self.varint(p, b)
                        dims.append(_signed(v))
                        if len(dims) > MAX_RANK:
                            break
                if len(dims) > MAX_RANK:
                    raise self.bad(f"a tensor with more than {MAX_RANK} dims")
            elif num == 2 and wt == VARINT:
                dtype = a
            elif num == 8 and wt == LEN:
                name = bytes(self.buf[a:b])
            elif num == 14 and wt == VARINT:
                external = a == 1
            elif num in PAYLOAD_FIELDS:
                size = (b - a) if wt != VARINT else 1
                payload_bytes += size
                if num == RAW_DATA:
                    raw_bytes = (raw_bytes or 0) + size
        if any(d < 0 for d in dims):
            raise self.bad(f"tensor {name.decode('utf-8', 'replace')!r} has a negative dim "
                           f"{dims}")
        n = math.prod(dims)
        width = ONNX_DTYPES.get(dtype, ("", None))[1]
        stored = raw_bytes if raw_bytes is not None else (payload_bytes if n == 0 else None)
        if not external and payload_bytes == 0 and n > 0:
            stored = 0  # declares elements but stores none (a hollow or truncated tensor)
        if stored is not None and width is not None and stored != n * width:
            self.out.problems.append(PayloadProblem(
                name.decode("utf-8", "replace"), tuple(dims), dtype_name(dtype), n * width,
                stored))
        if n <= KEEP_ELEMENTS and dtype != 8 or payload_bytes == 0:
            return bytes(self.buf[start:end])
        self.out.payload_bytes_skipped += payload_bytes
        self.out.tensors_stripped += 1
        parts: list[bytes] = []
        run = start
        for num, wt, a, b, fstart in self.fields(start, end):
            if num in PAYLOAD_FIELDS:
                parts.append(bytes(self.buf[run:fstart]))
                run = b
        parts.append(bytes(self.buf[run:end]))
        return b"".join(parts)


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(num: int, wt: int) -> bytes:
    return _varint((num << 3) | wt)


class _FileBuf:
    """Random access to a file through one small window (``buf[i]``, ``buf[a:b]``, ``len``).

    Not mmap: on some kernels a fault on a freshly written file maps a whole large folio
    (measured: ~2 MB of RSS per touched spot), so stepping over 30 payloads cost 70 MB.
    Here memory is one WINDOW plus the metadata slices actually copied."""

    WINDOW = 64 * 1024

    def __init__(self, fh: Any, size: int) -> None:
        self.fh = fh
        self.size = size
        self.start = 0
        self.win = b""

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key):
        if isinstance(key, slice):
            a, b = key.start or 0, min(key.stop if key.stop is not None else self.size,
                                       self.size)
            if self.start <= a and b <= self.start + len(self.win):
                return self.win[a - self.start:b - self.start]
            return self._pread(b - a, a) if b > a else b""
        i = key - self.start
        if 0 <= i < len(self.win):
            return self.win[i]
        if not 0 <= key < self.size:
            raise IndexError(key)
        self.start = key
        self.win = self._pread(self.WINDOW, key)
        return self.win[0]

    def _pread(self, n: int, offset: int) -> bytes:
        if isinstance(self.fh, int):
            data = os.pread(self.fh, n, offset)
        else:  # a remote file object (analyzer/sources.py)
            self.fh.seek(offset)
            data = self.fh.read(n)
        if len(data) < min(n, self.size - offset):
            raise OSError(5, "short read (file changed while being read?)")
        return data


def strip(path: str) -> Stripped:
    """The ModelProto at ``path`` re-serialised without large tensor payloads."""
    try:
        with sources.open_binary(path) as fh:
            local = not sources.is_url(path)
            size = os.fstat(fh.fileno()).st_size if local else sources.getsize(path)
            if size == 0:
                raise UnreadableArtifact("the file is empty", path)
            walker = _Walker(_FileBuf(fh.fileno() if local else fh, size), path)
            count = walker.count_nodes(limits.current().nodes)
            limits.check_nodes(count, path, at_least=count > limits.current().nodes)
            data = walker.message(MODEL, 0, size, 0)
    except OSError as exc:
        raise UnreadableArtifact(f"cannot be read ({exc.strerror or exc})", path) from None
    walker.out.data = data
    return walker.out


def looks_like_model(path: str, max_fields: int = 8) -> bool:
    """True when the file's first top-level fields are valid ModelProto fields, with
    ir_version (field 1) or graph (field 7) among them. Reads at most a few KiB plus stats."""
    try:
        size = sources.getsize(path)
        with sources.open_binary(path) as fh:
            head = fh.read(4096)
    except OSError:
        return False
    walker = _Walker(head, path)
    pos, seen = 0, set()
    try:
        for _ in range(max_fields):
            if pos >= size:
                break
            key, pos = walker.varint(pos, len(head))
            num, wt = key >> 3, key & 7
            if MODEL_FIELDS.get(num) != wt:
                return False
            seen.add(num)
            if num == 7:
                break  # the graph: enough evidence, and it may be large
            if wt == VARINT:
                val, pos = walker.varint(pos, len(head))
                if num == 1 and not 1 <= val <= 100:
                    return False
            else:
                n, pos = walker.varint(pos, len(head))
                if pos + n > size:
                    return False
                if num in (2, 3, 4):  # producer_name/version, domain: short UTF-8 text
                    # (a SavedModel's saved_model.pb starts with field 1 varint, field 2
                    # message: its binary MetaGraphDef fails here)
                    if n > 1024 or pos + n > len(head):
                        return False
                    try:
                        head[pos:pos + n].decode("utf-8")
                    except UnicodeDecodeError:
                        return False
                pos += n
                if pos > len(head):
                    break
    except UnreadableArtifact:
        return False
    return bool(seen & {1, 7})
