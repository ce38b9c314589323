"""dag-pb (codec 0x70) nodes and the UnixFS `Data` message inside them, decoded strictly.

The dag-pb spec (ipld.io/specs/codecs/dag-pb) fixes a canonical form: `PBNode { Links = 2 (repeated);
Data = 1 (optional) }` with every link before the data, and `PBLink { Hash = 1; Name = 2; Tsize = 3 }`
in that order, each at most once, Hash required. UnixFS (specs.ipfs.tech/unixfs) puts a protobuf in
`PBNode.Data`: `Type = 1` (required), `Data = 2`, `filesize = 3`, `blocksizes = 4` (repeated),
`hashType = 5`, `fanout = 6`, `mode = 7`, `mtime = 8`. Anything else is refused rather than guessed at.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from multiformats import CID

from zkray.fetch.errors import ContentMismatch
from zkray.fetch.protobuf import expect_bytes, expect_varint, iter_fields, unpack_varints


class UnixFsType(enum.IntEnum):
    """UnixFS `Data.DataType`."""

    RAW = 0
    DIRECTORY = 1
    FILE = 2
    METADATA = 3
    SYMLINK = 4
    HAMT_SHARD = 5


@dataclass(frozen=True)
class PbLink:
    """A link of a dag-pb node: the child's CID, its name in a directory, and its cumulative size."""

    cid: CID
    name: str | None
    tsize: int | None


@dataclass(frozen=True)
class PbNode:
    """A decoded dag-pb block."""

    links: tuple[PbLink, ...]
    data: bytes | None


@dataclass(frozen=True)
class UnixFsData:
    """The UnixFS message: what kind of node this is and, for files, its inline bytes and sizes."""

    type: UnixFsType
    data: bytes = b""
    filesize: int | None = None
    blocksizes: tuple[int, ...] = field(default_factory=tuple)


def decode_pbnode(block: bytes) -> PbNode:
    """Decode a dag-pb block, refusing non-canonical field order, duplicates and unknown fields."""
    links: list[PbLink] = []
    data: bytes | None = None
    for f in iter_fields(block):
        if f.number == 2:
            if data is not None:
                raise ContentMismatch("malformed dag-pb: a link follows the Data field")
            links.append(_decode_link(expect_bytes(f, "dag-pb PBNode")))
        elif f.number == 1:
            if data is not None:
                raise ContentMismatch("malformed dag-pb: Data appears twice")
            data = expect_bytes(f, "dag-pb PBNode")
        else:
            raise ContentMismatch(f"malformed dag-pb: unknown PBNode field {f.number}")
    return PbNode(tuple(links), data)


def _decode_link(buf: bytes) -> PbLink:
    cid: CID | None = None
    name: str | None = None
    tsize: int | None = None
    last = 0
    for f in iter_fields(buf):
        if f.number <= last or f.number > 3:
            raise ContentMismatch(f"malformed dag-pb: PBLink field {f.number} out of order or unknown")
        last = f.number
        if f.number == 1:
            cid = _decode_cid(expect_bytes(f, "dag-pb PBLink"))
        elif f.number == 2:
            try:
                name = expect_bytes(f, "dag-pb PBLink").decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ContentMismatch("malformed dag-pb: link name is not UTF-8") from exc
        else:
            tsize = expect_varint(f, "dag-pb PBLink")
    if cid is None:
        raise ContentMismatch("malformed dag-pb: PBLink without a Hash")
    return PbLink(cid, name, tsize)


def _decode_cid(raw: bytes) -> CID:
    try:
        return CID.decode(raw)
    except (KeyError, ValueError, TypeError) as exc:
        raise ContentMismatch(f"malformed dag-pb: link hash is not a binary CID ({exc})") from exc


def decode_unixfs(data: bytes | None) -> UnixFsData:
    """Decode the UnixFS message carried in `PbNode.data`."""
    if data is None:
        raise ContentMismatch("dag-pb node has no Data field, so it is not UnixFS")
    kind: UnixFsType | None = None
    inline = b""
    filesize: int | None = None
    blocksizes: list[int] = []
    for f in iter_fields(data):
        if f.number == 1:
            try:
                kind = UnixFsType(expect_varint(f, "UnixFS Data"))
            except ValueError as exc:
                raise ContentMismatch(f"malformed UnixFS: unknown Type {f.value!r}") from exc
        elif f.number == 2:
            inline = expect_bytes(f, "UnixFS Data")
        elif f.number == 3:
            filesize = expect_varint(f, "UnixFS Data")
        elif f.number == 4:
            # proto2 `repeated uint64` is unpacked, but tolerate the packed form some encoders emit.
            if isinstance(f.value, bytes):
                blocksizes.extend(unpack_varints(f.value))
            else:
                blocksizes.append(f.value)
        elif f.number in (5, 6, 7, 8):
            continue  # hashType/fanout matter only for HAMT shards; mode/mtime are metadata.
        else:
            raise ContentMismatch(f"malformed UnixFS: unknown field {f.number}")
    if kind is None:
        raise ContentMismatch("malformed UnixFS: Type is missing")
    return UnixFsData(kind, inline, filesize, tuple(blocksizes))
