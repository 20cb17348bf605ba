"""TF checkpoint metadata without TensorFlow: ``variables/variables.index`` and tensor protos.

``variables.index`` is a LevelDB-style SSTable (tsl/lib/io/table) whose keys are checkpoint
keys and whose values are ``BundleEntryProto`` (dtype, shape, shard, offset, size). TF's
BundleWriter writes it with ``kNoCompression``; a block that says otherwise is refused rather
than guessed. Only this file is read: the values in ``variables.data-*`` never are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .. import sources
from .protowire import WireError, as_dict, first, read_varint, signed64

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_LEN = 48
BLOCK_TRAILER = 5  # compression type byte + masked crc32c
#: An index larger than this is not a checkpoint index anyone wrote (one entry is ~50 bytes).
MAX_INDEX_BYTES = 512 * 1024 * 1024
MAX_RANK = 64

#: tensorflow/core/framework/types.proto DataType -> numpy-style name.
DTYPES: dict[int, str] = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
    8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8", 13: "qint32",
    14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16", 18: "complex128",
    19: "float16", 20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
    24: "float8_e5m2", 25: "float8_e4m3fn", 29: "int4", 30: "uint4",
}


def dtype_name(code: int) -> str:
    return DTYPES.get(code, f"dtype{code}")


@dataclass(frozen=True)
class IndexEntry:
    key: str
    dtype: str
    shape: tuple[int, ...]


def parse_shape(buf: bytes) -> Optional[tuple[Optional[int], ...]]:
    """TensorShapeProto: None for unknown rank, None per unknown (-1) dim."""
    msg = as_dict(buf)
    if first(msg, 3, 0):
        return None
    dims = []
    for raw in msg.get(2, []):
        if not isinstance(raw, bytes):
            raise WireError("shape dim is not a message")
        size = signed64(int(first(as_dict(raw), 1, 0)))  # type: ignore[arg-type]
        dims.append(None if size < 0 else size)
    if len(dims) > MAX_RANK:
        raise WireError(f"tensor rank {len(dims)} is above {MAX_RANK}")
    return tuple(dims)


def read_index(path: str) -> list[IndexEntry]:
    """Every tensor entry of a TensorBundle index, in key order (the header entry excluded)."""
    size = sources.getsize(path)
    if size > MAX_INDEX_BYTES:
        raise WireError(f"index is {size} bytes, more than {MAX_INDEX_BYTES}")
    with sources.open_binary(path) as fh:
        data = fh.read()
    if len(data) < FOOTER_LEN:
        raise WireError("too short for an SSTable footer")
    footer = data[-FOOTER_LEN:]
    if int.from_bytes(footer[-8:], "little") != TABLE_MAGIC:
        raise WireError("no SSTable magic number at the end")
    pos = 0
    _meta_off, pos = read_varint(footer, pos)
    _meta_size, pos = read_varint(footer, pos)
    idx_off, pos = read_varint(footer, pos)
    idx_size, pos = read_varint(footer, pos)
    entries: list[IndexEntry] = []
    for _, handle in _block_entries(_block(data, idx_off, idx_size)):
        off, p = read_varint(handle, 0)
        n, _ = read_varint(handle, p)
        for key, value in _block_entries(_block(data, off, n)):
            if key == b"":
                continue  # BundleHeaderProto
            entries.append(_entry(key, value))
    return entries


def _entry(key: bytes, value: bytes) -> IndexEntry:
    msg = as_dict(value)
    shape_raw = first(msg, 2, b"")
    shape = parse_shape(shape_raw) if isinstance(shape_raw, bytes) else ()
    if shape is None or any(d is None for d in shape):
        raise WireError(f"entry {key[:80]!r} has no fully known shape")
    if msg.get(7):
        raise WireError(f"entry {key[:80]!r} is a partitioned (sliced) variable")
    return IndexEntry(key=key.decode("utf-8", errors="replace"),
                      dtype=dtype_name(int(first(msg, 1, 0))),  # type: ignore[arg-type]
                      shape=tuple(shape))  # type: ignore[arg-type]


def _block(data: bytes, offset: int, size: int) -> bytes:
    end = offset + size
    if offset < 0 or end + BLOCK_TRAILER > len(data) - FOOTER_LEN + FOOTER_LEN or size < 4:
        raise WireError("block handle points outside the file")
    kind = data[end]
    if kind != 0:
        raise WireError(f"block is compressed (type {kind}); TF writes checkpoint indexes "
                        "uncompressed")
    return data[offset:end]


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    """Decode one block: prefix-compressed entries, then restart offsets and their count."""
    n_restarts = int.from_bytes(block[-4:], "little")
    limit = len(block) - 4 - 4 * n_restarts
    if n_restarts < 1 or limit < 0:
        raise WireError("block restart array is malformed")
    out: list[tuple[bytes, bytes]] = []
    pos, key = 0, b""
    while pos < limit:
        shared, pos = read_varint(block, pos)
        unshared, pos = read_varint(block, pos)
        vlen, pos = read_varint(block, pos)
        if shared > len(key) or pos + unshared + vlen > limit:
            raise WireError("block entry runs past its block")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        out.append((key, block[pos:pos + vlen]))
        pos += vlen
    return out
