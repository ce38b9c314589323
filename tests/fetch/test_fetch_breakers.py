"""A breaker per gateway: repeated failures open it, it is then skipped, and half-open probes close it."""

from __future__ import annotations

import asyncio

import pytest
from fetch_blocks import raw_file
from fetch_support import config

from zkray.fetch import CircuitOpen, InputFetcher, LocalBreakers, Timeout
from zkray.fetch.race import gateway_breaker_name
from zkray.policy.breaker import BreakerState


async def wait_for_state(breaker, state, tries=500):
    for _ in range(tries):
        if breaker.state is state:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{breaker} never reached {state}")


async def test_failing_gateway_is_opened_skipped_and_probed_closed(start_gateway, clock):
    dag = raw_file(b"input")
    flaky = await start_gateway(dag.blocks, "error500")
    good = await start_gateway(dag.blocks, "slow", delay_s=0.05)
    breakers = LocalBreakers()
    url = f"ipfs://{dag.root}"
    async with InputFetcher(config(flaky, good), breakers=breakers, clock=clock) as fetcher:
        for _ in range(5):
            assert await fetcher.fetch(url, expected_digest=None) == b"input"
            clock.now += 1
        flaky_breaker = breakers[gateway_breaker_name(flaky.url)]
        assert flaky_breaker.state is BreakerState.OPEN
        assert breakers[gateway_breaker_name(good.url)].state is BreakerState.CLOSED
        assert len(flaky.requests) == 5

        await fetcher.fetch(url, expected_digest=None)
        assert len(flaky.requests) == 5  # open: not asked

        # It recovers but is slower than the good gateway: its probes lose the race, yet finish in the
        # background and report, so the breaker closes after three successful probes.
        flaky.mode, flaky.delay_s, good.delay_s = "slow", 0.2, 0.0
        clock.now += 31
        for _ in range(3):
            assert await fetcher.fetch(url, expected_digest=None) == b"input"
        await wait_for_state(flaky_breaker, BreakerState.CLOSED)
        assert len(flaky.requests) == 8


async def test_hanging_gateway_opens_its_breaker(start_gateway, clock):
    """A gateway that times out fails; one that merely loses a race to a faster one does not."""
    dag = raw_file(b"input")
    hang = await start_gateway(dag.blocks, "hang")
    breakers = LocalBreakers(failure_threshold=2)
    cfg = config(hang, gateway_timeout_s=0.1)
    async with InputFetcher(cfg, breakers=breakers, clock=clock) as fetcher:
        for _ in range(2):
            with pytest.raises(Timeout):
                await fetcher.fetch(f"ipfs://{dag.root}", expected_digest=None)
        assert breakers[gateway_breaker_name(hang.url)].state is BreakerState.OPEN
        with pytest.raises(CircuitOpen):
            await fetcher.fetch(f"ipfs://{dag.root}", expected_digest=None)
    assert len(hang.requests) == 2


async def test_all_breakers_open_asks_nobody(start_gateway, clock):
    dag = raw_file(b"input")
    a = await start_gateway(dag.blocks, "error500")
    b = await start_gateway(dag.blocks, "missing")
    breakers = LocalBreakers(failure_threshold=1)
    async with InputFetcher(config(a, b), breakers=breakers, clock=clock) as fetcher:
        with pytest.raises(Exception, match="all 2 gateways failed"):
            await fetcher.fetch(f"ipfs://{dag.root}", expected_digest=None)
        # a 404 is a healthy answer and does not count against b; the 500 opened a
        assert breakers[gateway_breaker_name(b.url)].state is BreakerState.CLOSED
        b.mode = "error500"
        with pytest.raises(Exception, match="500"):
            await fetcher.fetch(f"ipfs://{dag.root}", expected_digest=None)
        with pytest.raises(CircuitOpen, match="none was asked") as info:
            await fetcher.fetch(f"ipfs://{dag.root}", expected_digest=None)
        assert info.value.retryable
    assert (len(a.requests), len(b.requests)) == (1, 2)
