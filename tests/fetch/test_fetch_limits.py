"""Bounds: the size cap, per-gateway timeouts, the overall deadline, block count and bounded retries."""

from __future__ import annotations

import os

import pytest
from fetch_blocks import raw_file, unixfs_file
from fetch_support import config

from zkray.fetch import AllGatewaysFailed, ContentMismatch, Timeout, TooLarge, fetch_input


async def test_announced_oversized_block_is_refused(start_gateway):
    dag = raw_file(os.urandom(200_000))
    gateway = await start_gateway(dag.blocks)
    with pytest.raises(TooLarge, match="announces 200000 bytes"):
        await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=config(gateway, max_bytes=100_000))


async def test_endless_body_is_cut_at_the_cap(start_gateway):
    dag = raw_file(b"small")
    gateway = await start_gateway(dag.blocks, "oversized")
    with pytest.raises(TooLarge, match="aborted") as info:
        await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=config(gateway, max_bytes=300_000))
    assert not info.value.retryable


async def test_declared_file_size_over_the_cap_fetches_no_leaves(start_gateway):
    dag = unixfs_file(os.urandom(50_000), chunk=10_000, fanout=8)
    gateway = await start_gateway(dag.blocks)
    with pytest.raises(TooLarge, match="declares 50000 bytes"):
        await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=config(gateway, max_bytes=40_000))
    assert [cid for cid, _, _ in gateway.requests] == [str(dag.root)]


async def test_block_count_is_capped(start_gateway):
    dag = unixfs_file(os.urandom(5000), chunk=100, fanout=10)
    gateway = await start_gateway(dag.blocks)
    with pytest.raises(TooLarge, match="max_blocks=20"):
        await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=config(gateway, max_blocks=20))


async def test_hanging_gateway_times_out(start_gateway):
    dag = raw_file(b"input")
    gateway = await start_gateway(dag.blocks, "hang")
    with pytest.raises(Timeout, match=r"within 0\.3 s") as info:
        await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=config(gateway, gateway_timeout_s=0.3))
    assert info.value.retryable


async def test_overall_deadline_bounds_the_whole_fetch(start_gateway):
    dag = raw_file(b"input")
    gateway = await start_gateway(dag.blocks, "hang")
    cfg = config(gateway, gateway_timeout_s=30.0, deadline_s=0.3)
    with pytest.raises(Timeout, match=r"overall deadline of 0\.3 s"):
        await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=cfg)


async def test_rate_limited_gateway_is_retried_a_bounded_number_of_times(start_gateway):
    dag = raw_file(b"input")
    gateway = await start_gateway(dag.blocks, fail_first=2)
    cfg = config(gateway, attempts=3)
    assert await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=cfg) == b"input"
    assert len(gateway.requests) == 3
    stubborn = await start_gateway(dag.blocks, "rate_limited")
    with pytest.raises(AllGatewaysFailed, match="429"):
        await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=config(stubborn, attempts=3))
    assert len(stubborn.requests) == 3


async def test_retry_after_past_the_deadline_gives_up_with_the_real_error(start_gateway):
    dag = raw_file(b"input")
    gateway = await start_gateway(dag.blocks, "rate_limited", retry_after="3600")
    cfg = config(gateway, attempts=3, deadline_s=5.0)
    with pytest.raises(AllGatewaysFailed, match="429"):
        await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=cfg)
    assert len(gateway.requests) == 1


async def test_permanent_failures_are_not_retried(start_gateway):
    dag = raw_file(b"input")
    gateway = await start_gateway(dag.blocks, "wrong")
    with pytest.raises(ContentMismatch):
        await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=config(gateway, attempts=3))
    assert len(gateway.requests) == 1


async def test_hedged_race_brings_in_the_next_gateway_when_the_first_is_slow(start_gateway):
    dag = raw_file(b"input")
    slow = await start_gateway(dag.blocks, "hang")
    fast = await start_gateway(dag.blocks)
    cfg = config(slow, fast, hedge_delay_s=0.05, gateway_timeout_s=5.0)
    assert await fetch_input(f"ipfs://{dag.root}", expected_digest=None, config=cfg) == b"input"
    assert len(slow.requests) == 1 and len(fast.requests) == 1
