"""UnixFS assembly as a property: any file the builder chunks is read back byte for byte.

The reader's block source is injected (as the fetcher injects the gateway race), so this runs many
shapes of DAG quickly; the HTTP path is covered by test_fetch_ipfs.py.
"""

from __future__ import annotations

import asyncio

import pytest
from fetch_blocks import unixfs_file
from fetch_support import config
from hypothesis import given, settings
from hypothesis import strategies as st
from multiformats import CID

from zkray.fetch import FetchError, TooLarge
from zkray.fetch.cids import IpfsPath, verify_block
from zkray.fetch.unixfs import UnixFsReader


def read(blocks: dict[bytes, bytes], root: CID, **overrides: object) -> bytes:
    async def get_block(cid: CID, limit: int, too_large: type[FetchError]) -> bytes:
        block = blocks[bytes(cid)]
        if len(block) > limit:
            raise too_large(f"{len(block)} > {limit}")
        verify_block(cid, block)
        return block

    reader = UnixFsReader(get_block, config(**overrides))
    return asyncio.run(reader.read(IpfsPath(root, ())))


@given(
    data=st.binary(max_size=3000),
    chunk=st.integers(1, 700),
    fanout=st.integers(2, 6),
    version=st.sampled_from([0, 1]),
    raw_leaves=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_any_chunking_reads_back(data, chunk, fanout, version, raw_leaves):
    dag = unixfs_file(data, chunk=chunk, fanout=fanout, version=version, raw_leaves=raw_leaves)
    assert read(dag.blocks, dag.root, max_blocks=10_000) == data


@given(data=st.binary(min_size=101, max_size=2000), chunk=st.integers(1, 300))
@settings(max_examples=30, deadline=None)
def test_any_file_over_the_cap_is_refused(data, chunk):
    dag = unixfs_file(data, chunk=chunk, fanout=4)
    with pytest.raises(TooLarge):
        read(dag.blocks, dag.root, max_bytes=100, max_blocks=10_000)
