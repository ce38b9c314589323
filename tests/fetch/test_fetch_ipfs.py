"""IPFS inputs over real loopback trustless gateways: the race, verification and UnixFS assembly."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest
from fetch_blocks import cid_of, directory, pb_varint, pbnode, raw_file, unixfs, unixfs_file
from fetch_support import config

from zkray.fetch import (
    AllGatewaysFailed,
    ContentMismatch,
    GatewayError,
    InputDigestMismatch,
    InputFetcher,
    PathNotFound,
    UnsupportedContent,
    fetch_input,
)


async def test_raw_block_is_fetched_with_the_trustless_block_request(start_gateway):
    data = os.urandom(3000)
    dag = raw_file(data)
    gateway = await start_gateway(dag.blocks)
    got = await fetch_input(f"ipfs://{dag.root}", expected_digest=hashlib.sha256(data).digest(), config=config(gateway))
    assert got == data
    assert gateway.requests == [(str(dag.root), "raw", "application/vnd.ipld.raw")]


@pytest.mark.parametrize("version", [0, 1])
async def test_single_block_unixfs_file(start_gateway, version):
    dag = unixfs_file(b"hello world\n", version=version)
    gateway = await start_gateway(dag.blocks)
    assert await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=config(gateway)) == (b"hello world\n")


async def test_multi_block_file_is_assembled_from_verified_raw_blocks(start_gateway):
    data = os.urandom(40_000)
    dag = unixfs_file(data, chunk=1000, fanout=4)  # 40 leaves, three levels of dag-pb nodes
    gateway = await start_gateway(dag.blocks)
    got = await fetch_input(f"ipfs://{dag.root}", expected_digest=hashlib.sha256(data).digest(), config=config(gateway))
    assert got == data
    assert len(gateway.requests) == len(dag.blocks)
    assert all(fmt == "raw" for _, fmt, _ in gateway.requests)


async def test_cidv0_file_with_dag_pb_leaves(start_gateway):
    data = os.urandom(10_000)
    dag = unixfs_file(data, chunk=1024, fanout=3, version=0, raw_leaves=False)
    assert str(dag.root).startswith("Qm")
    gateway = await start_gateway(dag.blocks)
    assert await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=config(gateway)) == data


async def test_race_picks_the_good_gateway_among_bad_ones(start_gateway):
    data = os.urandom(20_000)
    dag = unixfs_file(data, chunk=2000, fanout=3)
    bad = [
        await start_gateway(dag.blocks, "wrong"),
        await start_gateway(dag.blocks, "error500"),
        await start_gateway(dag.blocks, "truncated"),
        await start_gateway(dag.blocks, "hang"),
        await start_gateway(dag.blocks, "html"),
        await start_gateway(dag.blocks, "missing"),
        await start_gateway(dag.blocks, "oversized"),
    ]
    good = await start_gateway(dag.blocks, "slow", delay_s=0.02)
    cfg = config(*bad, good, max_bytes=100_000)
    async with InputFetcher(cfg) as fetcher:
        got = await fetcher.fetch(f"ipfs://{dag.root}", expected_digest=hashlib.sha256(data).digest())
    assert got == data
    assert len(good.requests) == len(dag.blocks)


async def test_losers_are_cancelled_once_a_verified_answer_arrives(start_gateway):
    dag = raw_file(b"input")
    hang = await start_gateway(dag.blocks, "hang")
    good = await start_gateway(dag.blocks)
    cfg = config(hang, good, gateway_timeout_s=30.0)
    async with InputFetcher(cfg) as fetcher:  # the session stays open: only cancellation hangs up
        assert await fetcher.fetch(f"ipfs://{dag.root}", expected_digest=None) == b"input"
        for _ in range(300):  # the hanging gateway sees its client hang up (bounded wait)
            if hang.hangups:
                break
            await asyncio.sleep(0.01)
        assert hang.hangups == 1


async def test_corrupt_bytes_everywhere_are_never_returned(start_gateway):
    dag = raw_file(b"the real input")
    gateways = [await start_gateway(dag.blocks, "wrong") for _ in range(3)]
    with pytest.raises(ContentMismatch, match="every gateway failed the same way"):
        await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=config(*gateways))


async def test_one_corrupt_child_block_is_taken_from_another_gateway(start_gateway):
    data = os.urandom(8000)
    dag = unixfs_file(data, chunk=1000)
    leaf = next(k for k, v in dag.blocks.items() if v == data[:1000])
    poisoned = dict(dag.blocks)
    poisoned[leaf] = b"\x00" * 1000
    liar = await start_gateway(poisoned)
    honest = await start_gateway(dag.blocks, "slow", delay_s=0.05)
    assert await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=config(liar, honest)) == data


async def test_mixed_failures_are_reported_per_gateway(start_gateway):
    dag = raw_file(b"x" * 10)
    g500 = await start_gateway(dag.blocks, "error500")
    g404 = await start_gateway(dag.blocks, "missing")
    with pytest.raises(AllGatewaysFailed) as info:
        await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=config(g500, g404))
    assert {err.status for err in info.value.errors.values() if isinstance(err, GatewayError)} == {500, 404}
    assert info.value.retryable  # the 500 may clear up; the caller's retry policy reads this


async def test_wrong_input_digest_is_final(start_gateway):
    dag = raw_file(b"payload")
    gateway = await start_gateway(dag.blocks)
    with pytest.raises(InputDigestMismatch, match="skip it") as info:
        await fetch_input(f"ipfs://{dag.root}", expected_digest=b"\x11" * 32, config=config(gateway))
    assert not info.value.retryable


async def test_path_inside_a_directory(start_gateway):
    data = os.urandom(5000)
    root = directory({"input.bin": unixfs_file(data, chunk=1000), "other": raw_file(b"other")})
    gateway = await start_gateway(root.blocks)
    cfg = config(gateway)
    assert await fetch_input(f"ipfs://{root.root}/input.bin", expected_digest=None, config=cfg) == data
    assert await fetch_input(f"ipfs://{root.root}/other", expected_digest=None, config=cfg) == b"other"
    with pytest.raises(PathNotFound, match=r"'input\.bin', 'other'"):
        await fetch_input(f"ipfs://{root.root}/missing", expected_digest=None, config=cfg)
    with pytest.raises(UnsupportedContent, match="is a directory"):
        await fetch_input(f"ipfs://{root.root}", expected_digest=None, config=cfg)
    with pytest.raises(PathNotFound, match="raw block"):
        await fetch_input(f"ipfs://{root.root}/other/deeper", expected_digest=None, config=cfg)


async def test_node_whose_sizes_disagree_is_rejected(start_gateway):
    leaf = b"abc"
    leaf_cid = cid_of(leaf, "raw")
    lying = pbnode([(leaf_cid, "", 3)], unixfs(2, filesize=4, blocksizes=(4,)))
    root = cid_of(lying, "dag-pb")
    gateway = await start_gateway({bytes(root): lying, bytes(leaf_cid): leaf})
    with pytest.raises(ContentMismatch, match="has 3 bytes, its parent says 4"):
        await fetch_input(f"ipfs://{root}", expected_digest=None, config=config(gateway))
    inconsistent = pbnode([(leaf_cid, "", 3)], unixfs(2, filesize=5, blocksizes=(3,)))
    root2 = cid_of(inconsistent, "dag-pb")
    gateway2 = await start_gateway({bytes(root2): inconsistent, bytes(leaf_cid): leaf})
    with pytest.raises(ContentMismatch, match="filesize 5"):
        await fetch_input(f"ipfs://{root2}", expected_digest=None, config=config(gateway2))


async def test_symlinks_are_not_inputs(start_gateway):
    block = pbnode([], pb_varint(1, 4))
    cid = cid_of(block, "dag-pb")
    gateway = await start_gateway({bytes(cid): block})
    with pytest.raises(UnsupportedContent, match="symlink"):
        await fetch_input(f"ipfs://{cid}", expected_digest=None, config=config(gateway))
