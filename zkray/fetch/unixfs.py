"""Assemble an input from verified blocks: a raw block, or a UnixFS file as a tree of dag-pb nodes.

Every block arrives already checked against its CID, and every parent states its children's sizes
(`blocksizes`, `filesize`), so a gateway can neither change nor pad the file: sizes are checked before
children are fetched (an oversized file is refused before downloading it) and again as they arrive.
Depth, block count and bytes are all capped by `FetchConfig`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from multiformats import CID

from zkray.fetch.cids import DAG_PB, RAW, IpfsPath, check_supported, inline_block
from zkray.fetch.config import FetchConfig
from zkray.fetch.dagpb import PbNode, UnixFsData, UnixFsType, decode_pbnode, decode_unixfs
from zkray.fetch.errors import (
    ContentMismatch,
    FetchError,
    PathNotFound,
    TooLarge,
    UnsupportedContent,
)

GetBlock = Callable[[CID, int, type[FetchError]], Awaitable[bytes]]
"""(cid, limit, error to raise past the limit) → the block's verified bytes."""


class UnixFsReader:
    """Reads one input; create one per fetch, since it counts that fetch's bytes and blocks."""

    def __init__(self, get_block: GetBlock, config: FetchConfig) -> None:
        self._get_block = get_block
        self._config = config
        self._gate = asyncio.Semaphore(config.block_concurrency)
        self._bytes = 0
        self._blocks = 0

    async def read(self, path: IpfsPath) -> bytes:
        """The bytes of the file at `path` (the root itself when there are no segments)."""
        if len(path.segments) > self._config.max_depth:
            raise UnsupportedContent(f"path has {len(path.segments)} segments, over max_depth")
        cid = path.root
        for segment in path.segments:
            cid = await self._lookup(cid, segment)
        return b"".join(await self._file(cid, expected=None, depth=0))

    async def _lookup(self, directory: CID, name: str) -> CID:
        if directory.codec.code != DAG_PB:
            raise PathNotFound(f"cannot look up {name!r}: {directory} is a raw block, not a directory")
        node, fs = await self._node(directory)
        if fs.type is UnixFsType.HAMT_SHARD:
            raise UnsupportedContent(
                f"{directory} is a HAMT-sharded directory, which this node does not walk; "
                "post the file's own CID as inputUrl"
            )
        if fs.type is not UnixFsType.DIRECTORY:
            raise PathNotFound(f"cannot look up {name!r}: {directory} is a {fs.type.name.lower()}")
        for link in node.links:
            if link.name == name:
                return link.cid
        names = ", ".join(repr(link.name) for link in node.links[:10])
        raise PathNotFound(f"no entry {name!r} in directory {directory} (entries: {names or 'none'})")

    async def _node(self, cid: CID) -> tuple[PbNode, UnixFsData]:
        node = decode_pbnode(await self._block(cid, self._config.max_node_bytes, TooLarge))
        return node, decode_unixfs(node.data)

    async def _block(self, cid: CID, limit: int, too_large: type[FetchError]) -> bytes:
        check_supported(cid)
        self._blocks += 1
        if self._blocks > self._config.max_blocks:
            raise TooLarge(f"input needs more than max_blocks={self._config.max_blocks} blocks")
        inline = inline_block(cid)
        if inline is not None:
            if len(inline) > limit:
                raise too_large(f"identity CID {cid} holds {len(inline)} bytes, over {limit}")
            return inline
        async with self._gate:
            return await self._get_block(cid, limit, too_large)

    def _remaining(self) -> int:
        return self._config.max_bytes - self._bytes

    def _consume(self, n: int) -> None:
        self._bytes += n
        if self._bytes > self._config.max_bytes:
            raise TooLarge(f"input exceeds max_bytes={self._config.max_bytes}; raise it if it is legitimate")

    async def _file(self, cid: CID, expected: int | None, depth: int) -> list[bytes]:
        """The file's bytes as a list of pieces; `expected` is the size its parent declared."""
        if depth > self._config.max_depth:
            raise UnsupportedContent(f"UnixFS DAG deeper than max_depth={self._config.max_depth}")
        if expected is not None and expected > self._remaining():
            raise TooLarge(f"input exceeds max_bytes={self._config.max_bytes}; raise it if it is legitimate")
        if cid.codec.code == RAW:
            if expected is None:
                block = await self._block(cid, self._remaining(), TooLarge)
            else:  # the parent fixed the size, so any other length is the gateway's lie
                block = await self._block(cid, expected, ContentMismatch)
                if len(block) != expected:
                    raise ContentMismatch(f"leaf {cid} has {len(block)} bytes, its parent says {expected}")
            self._consume(len(block))
            return [block]
        node, fs = await self._node(cid)
        if fs.type in (UnixFsType.DIRECTORY, UnixFsType.HAMT_SHARD):
            raise UnsupportedContent(f"{cid} is a directory; name a file inside it: ipfs://<root>/<name>")
        if fs.type not in (UnixFsType.FILE, UnixFsType.RAW):
            raise UnsupportedContent(f"{cid} is a UnixFS {fs.type.name.lower()}, not a file")
        total = _declared_size(cid, node, fs)
        if expected is not None and total != expected:
            raise ContentMismatch(f"node {cid} holds {total} bytes, its parent says {expected}")
        if total > self._remaining():
            raise TooLarge(
                f"input declares {total} bytes, over max_bytes={self._config.max_bytes}; raise it if it is legitimate"
            )
        self._consume(len(fs.data))
        children = [self._file(link.cid, size, depth + 1) for link, size in zip(node.links, fs.blocksizes, strict=True)]
        pieces = await _gather_or_cancel(children)
        return [fs.data, *(piece for child in pieces for piece in child)]


def _declared_size(cid: CID, node: PbNode, fs: UnixFsData) -> int:
    """The file size a node commits to, after checking its own fields agree with each other."""
    if len(fs.blocksizes) != len(node.links):
        raise ContentMismatch(f"node {cid} has {len(node.links)} links but {len(fs.blocksizes)} blocksizes")
    total = len(fs.data) + sum(fs.blocksizes)
    if fs.filesize is not None and fs.filesize != total:
        raise ContentMismatch(f"node {cid} says filesize {fs.filesize}, its parts add up to {total}")
    return total


async def _gather_or_cancel(coros: Sequence[Awaitable[list[bytes]]]) -> list[list[bytes]]:
    """Run children concurrently, in order; the first failure cancels the rest and is raised."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
