"""A small, bounded reader of the protobuf wire format, for the few TF messages memscan needs.

No generated classes and no protobuf runtime: a message is walked as (field number, wire type,
value) triples, and a reader picks the fields it knows. Malformed bytes raise ``WireError``
(a ValueError); callers turn it into one line naming the file.
"""
from __future__ import annotations

from typing import Iterator, Union

Value = Union[int, bytes]

VARINT, FIXED64, LEN, SGROUP, EGROUP, FIXED32 = 0, 1, 2, 3, 4, 5


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def read_varint(buf: bytes, pos: int, end: int | None = None) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it (at most 10 bytes, none past ``end``,
    by default the end of ``buf``)."""
    limit = len(buf) if end is None else end
    result = shift = 0
    for i in range(10):
        if pos >= limit:
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
    raise WireError("varint longer than 10 bytes")


def fields(buf: bytes) -> Iterator[tuple[int, int, Value]]:
    """Every (field number, wire type, value) of one message, in order. LEN values are bytes."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        number, wtype = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wtype == VARINT:
            value, pos = read_varint(buf, pos)
        elif wtype == FIXED64:
            if pos + 8 > end:
                raise WireError("truncated fixed64")
            value, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wtype == FIXED32:
            if pos + 4 > end:
                raise WireError("truncated fixed32")
            value, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        elif wtype == LEN:
            n, pos = read_varint(buf, pos)
            if pos + n > end:
                raise WireError("length-delimited field runs past the message")
            value, pos = bytes(buf[pos:pos + n]), pos + n
        else:
            raise WireError(f"unsupported wire type {wtype}")
        yield number, wtype, value


def as_dict(buf: bytes) -> dict[int, list[Value]]:
    """Fields grouped by number (repeated fields keep their order)."""
    out: dict[int, list[Value]] = {}
    for number, _, value in fields(buf):
        out.setdefault(number, []).append(value)
    return out


def first(msg: dict[int, list[Value]], number: int, default: Value = b"") -> Value:
    vals = msg.get(number)
    return vals[-1] if vals else default  # proto3: the last occurrence wins


def text(value: Value) -> str:
    if not isinstance(value, bytes):
        raise WireError("expected a string field")
    return value.decode("utf-8", errors="replace")


def signed64(value: int) -> int:
    """A varint read as int64 (negative numbers are 10-byte two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value
