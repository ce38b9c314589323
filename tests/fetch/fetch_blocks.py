"""Build real IPFS blocks for the tests: raw leaves, UnixFS dag-pb files and directories.

The protobuf *encoder* here is written independently of `zkray.fetch.protobuf`'s reader, so the two
check each other; `test_known_cids` pins it to CIDs that `ipfs add` produces.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from multiformats import CID, multihash


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pb_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def pb_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def unixfs(kind: int, data: bytes = b"", filesize: int | None = None, blocksizes: tuple[int, ...] = ()) -> bytes:
    out = pb_varint(1, kind)
    if data:
        out += pb_bytes(2, data)
    if filesize is not None:
        out += pb_varint(3, filesize)
    for size in blocksizes:
        out += pb_varint(4, size)
    return out


def pbnode(links: list[tuple[CID, str | None, int | None]], data: bytes | None) -> bytes:
    out = b""
    for cid, name, tsize in links:
        link = pb_bytes(1, bytes(cid))
        if name is not None:
            link += pb_bytes(2, name.encode())
        if tsize is not None:
            link += pb_varint(3, tsize)
        out += pb_bytes(2, link)
    if data is not None:
        out += pb_bytes(1, data)
    return out


def cid_of(block: bytes, codec: str, version: int = 1) -> CID:
    digest = multihash.wrap(hashlib.sha256(block).digest(), "sha2-256")
    if version == 0:
        return CID("base58btc", 0, "dag-pb", digest)
    return CID("base32", 1, codec, digest)


@dataclass
class Dag:
    """A root CID and every block under it, keyed by the CID's binary form."""

    root: CID
    blocks: dict[bytes, bytes] = field(default_factory=dict)

    def add(self, cid: CID, block: bytes) -> CID:
        self.blocks[bytes(cid)] = block
        return cid


def raw_file(data: bytes) -> Dag:
    cid = cid_of(data, "raw")
    return Dag(cid, {bytes(cid): data})


def unixfs_file(data: bytes, chunk: int = 1024, fanout: int = 4, version: int = 1, raw_leaves: bool = True) -> Dag:
    """A balanced UnixFS file of `chunk`-byte leaves under dag-pb nodes of at most `fanout` links.

    `raw_leaves=False` builds leaves the way CIDv0 `ipfs add` does: dag-pb UnixFS File nodes.
    """
    dag = Dag(CID.decode("bafkqaaa"))
    if len(data) <= chunk:
        block = pbnode([], unixfs(2, data, filesize=len(data)))
        dag.root = dag.add(cid_of(block, "dag-pb", version), block)
        return dag
    level = []
    for i in range(0, len(data), chunk):
        piece = data[i : i + chunk]
        if raw_leaves:
            level.append((dag.add(cid_of(piece, "raw"), piece), len(piece), len(piece)))
        else:
            block = pbnode([], unixfs(2, piece, filesize=len(piece)))
            level.append((dag.add(cid_of(block, "dag-pb", version), block), len(piece), len(block)))
    while len(level) > 1:
        parents = []
        for i in range(0, len(level), fanout):
            group = level[i : i + fanout]
            sizes = tuple(size for _, size, _ in group)
            fs = unixfs(2, filesize=sum(sizes), blocksizes=sizes)
            block = pbnode([(c, "", t) for c, _, t in group], fs)
            cid = dag.add(cid_of(block, "dag-pb", version), block)
            parents.append((cid, sum(sizes), len(block) + sum(t for _, _, t in group)))
        level = parents
    dag.root = level[0][0]
    return dag


def directory(entries: dict[str, Dag]) -> Dag:
    dag = Dag(CID.decode("bafkqaaa"))
    for child in entries.values():
        dag.blocks.update(child.blocks)
    links = [(child.root, name, 1) for name, child in sorted(entries.items())]
    block = pbnode(links, unixfs(1))
    dag.root = dag.add(cid_of(block, "dag-pb"), block)
    return dag
