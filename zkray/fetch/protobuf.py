"""A tiny, strict protobuf wire reader: just enough for dag-pb and UnixFS, written by hand.

Strict because the bytes come from an untrusted gateway: varints are at most 10 bytes and must fit
in 64 bits, lengths must fit in what is left, and only the wire types dag-pb/UnixFS use (varint and
length-delimited) are accepted. Every read is bounded by the buffer, so a hostile block cannot make
the reader loop or allocate past its own size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from zkray.fetch.errors import ContentMismatch

WIRE_VARINT = 0
WIRE_BYTES = 2
_MAX_VARINT_BYTES = 10


@dataclass(frozen=True)
class Field:
    """One decoded field: its number, wire type, and value (an int for varints, bytes otherwise)."""

    number: int
    wire_type: int
    value: int | bytes


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at `pos`; return (value, next position)."""
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(buf):
            raise ContentMismatch("malformed protobuf: varint runs past the end of the block")
        byte = buf[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if value >= 1 << 64:
                raise ContentMismatch("malformed protobuf: varint does not fit in 64 bits")
            if i > 0 and byte == 0:
                raise ContentMismatch("malformed protobuf: varint is not minimally encoded")
            return value, pos + i + 1
    raise ContentMismatch(f"malformed protobuf: varint longer than {_MAX_VARINT_BYTES} bytes")


def iter_fields(buf: bytes) -> Iterator[Field]:
    """Yield the fields of one message in wire order; reject wire types other than 0 and 2."""
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ContentMismatch("malformed protobuf: field number 0")
        if wire_type == WIRE_VARINT:
            value, pos = read_varint(buf, pos)
            yield Field(number, wire_type, value)
        elif wire_type == WIRE_BYTES:
            length, pos = read_varint(buf, pos)
            if length > len(buf) - pos:
                raise ContentMismatch(
                    f"malformed protobuf: field {number} claims {length} bytes, {len(buf) - pos} remain"
                )
            yield Field(number, wire_type, bytes(buf[pos : pos + length]))
            pos += length
        else:
            raise ContentMismatch(f"malformed protobuf: field {number} has unsupported wire type {wire_type}")


def expect_bytes(field: Field, what: str) -> bytes:
    """The field's bytes, or a mismatch naming `what` if the gateway sent another wire type."""
    if field.wire_type != WIRE_BYTES or not isinstance(field.value, bytes):
        raise ContentMismatch(f"malformed {what}: field {field.number} must be length-delimited")
    return field.value


def expect_varint(field: Field, what: str) -> int:
    """The field's integer, or a mismatch naming `what` if the gateway sent another wire type."""
    if field.wire_type != WIRE_VARINT or not isinstance(field.value, int):
        raise ContentMismatch(f"malformed {what}: field {field.number} must be a varint")
    return field.value


def unpack_varints(buf: bytes) -> list[int]:
    """Decode a packed repeated varint field's payload."""
    values: list[int] = []
    pos = 0
    while pos < len(buf):
        value, pos = read_varint(buf, pos)
        values.append(value)
    return values
