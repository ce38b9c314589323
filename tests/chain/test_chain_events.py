"""The event stream against a real anvil: WebSocket cut while blocks advance, polling, restarts from a
persisted cursor, and fallback from an unreachable WebSocket, each delivering every event exactly once
and in chain order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from chain_proxy import TcpProxy
from chain_support import TIP, engine_as, image_id

from zkray.chain.client import EngineClient
from zkray.chain.devnet import Devnet
from zkray.chain.events import Cursor, EngineEvent, EventStream

REQUESTED = {"ExecutionRequested"}


async def _post(client: EngineClient, n: int) -> list[int]:
    results = await asyncio.gather(
        *(client.request_execution(image_id(), i.to_bytes(32, "big"), f"data:,{i}", tip=TIP) for i in range(n))
    )
    return sorted(request_id for request_id, _ in results)


async def _until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def consuming(stream: EventStream, limit: int | None = None) -> AsyncIterator[list[EngineEvent]]:
    """Run `stream` in the background, appending events to the yielded list (stopping after `limit`)."""
    seen: list[EngineEvent] = []
    stop = asyncio.Event()

    async def consume() -> None:
        async with contextlib.aclosing(stream.events(stop)) as events:
            async for event in events:
                seen.append(event)
                if limit is not None and len(seen) >= limit:
                    return

    task = asyncio.create_task(consume())
    try:
        yield seen
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def _pool_size(chain: Devnet) -> int:
    pending = chain.rpc("txpool_status")["pending"]
    return int(pending, 16) if isinstance(pending, str) else int(pending)


def _ids(events: list[EngineEvent]) -> list[int]:
    return [e.args["requestId"] for e in events]


def _in_chain_order(events: list[EngineEvent]) -> bool:
    return [e.cursor for e in events] == sorted({e.cursor for e in events})


async def test_websocket_cut_while_blocks_advance_then_every_event_exactly_once(chain: Devnet) -> None:
    assert chain.roles is not None and chain.deployment is not None
    port = int(chain.rpc_url.rsplit(":", 1)[1])
    proxy = await TcpProxy(port).start()
    head = chain.block_number()
    stream = EventStream(
        chain.rpc_url,
        chain.deployment.engine,
        ws_url=f"ws://127.0.0.1:{proxy.port}",
        after=Cursor.before_block(head + 1),
        names=REQUESTED,
        reconnect_s=(0.05, 0.2),
        heartbeat_s=1.0,
        ws_failures_before_polling=0,  # this test is about WebSocket recovery alone
    )
    try:
        async with engine_as(chain, chain.roles.requesters[0]) as requester, consuming(stream) as seen:
            posted = await _post(requester, 10)
            await _until(lambda: len(seen) == 10)

            proxy.refusing = True
            proxy.cut()
            posted += await _post(requester, 15)  # these blocks are mined while the stream is away
            chain.mine(5)
            await _until(lambda: stream.stats.reconnects >= 2)
            assert len(seen) == 10

            proxy.refusing = False
            await _until(lambda: len(seen) == 25)
            posted += await _post(requester, 5)  # live again
            await _until(lambda: len(seen) == 30)
            await asyncio.sleep(0.3)  # nothing more arrives: no duplicates
        assert _ids(seen) == posted == list(range(posted[0], posted[0] + 30))
        assert _in_chain_order(seen)
        assert stream.stats.backfilled >= 15 and stream.stats.delivered == 30
    finally:
        await proxy.close()


async def test_polling_mode_delivers_every_event_exactly_once_in_order(chain: Devnet) -> None:
    assert chain.roles is not None and chain.deployment is not None
    head = chain.block_number()
    stream = EventStream(
        chain.rpc_url, chain.deployment.engine, after=Cursor.before_block(head + 1), names=REQUESTED, poll_s=0.05
    )
    async with engine_as(chain, chain.roles.requesters[0]) as requester, consuming(stream) as seen:
        posted = await _post(requester, 12)
        await _until(lambda: len(seen) == 12)
        chain.set_interval_mining(1)  # several requests per block from here on
        posted += await _post(requester, 12)
        await _until(lambda: len(seen) == 24)
        await asyncio.sleep(0.3)
    assert _ids(seen) == posted and _in_chain_order(seen)
    assert stream.stats.mode == "poll" and stream.stats.delivered == 24


async def test_a_restart_from_the_persisted_cursor_resumes_mid_block_without_loss_or_repeat(chain: Devnet) -> None:
    assert chain.roles is not None and chain.deployment is not None
    head = chain.block_number()
    start = Cursor.before_block(head + 1)
    chain.rpc("evm_setAutomine", False)
    async with engine_as(chain, chain.roles.requesters[0]) as requester:
        task = asyncio.create_task(_post(requester, 6))
        await _until(lambda: _pool_size(chain) == 6)
        chain.mine()  # all six requests in one block
        posted = await asyncio.wait_for(task, 30)
    for ws_url in (chain.ws_url, None):
        first = EventStream(chain.rpc_url, chain.deployment.engine, ws_url=ws_url, after=start, names=REQUESTED)
        async with consuming(first, limit=4) as seen_first:
            await _until(lambda: len(seen_first) == 4)
        persisted = seen_first[-1].cursor  # what a caller stores after handling each event
        assert persisted.block == seen_first[0].block_number  # stopped in the middle of the block
        second = EventStream(chain.rpc_url, chain.deployment.engine, ws_url=ws_url, after=persisted, names=REQUESTED)
        async with consuming(second) as seen_second:
            await _until(lambda: len(seen_second) == 2)
            await asyncio.sleep(0.2)
        assert _ids(seen_first) + _ids(seen_second) == posted


async def test_unreachable_websocket_falls_back_to_polling(chain: Devnet) -> None:
    assert chain.roles is not None and chain.deployment is not None
    proxy = await TcpProxy(1).start()
    proxy.refusing = True
    head = chain.block_number()
    stream = EventStream(
        chain.rpc_url,
        chain.deployment.engine,
        ws_url=f"ws://127.0.0.1:{proxy.port}",
        after=Cursor.before_block(head + 1),
        names=REQUESTED,
        reconnect_s=(0.02, 0.05),
        ws_failures_before_polling=2,
        poll_s=0.05,
    )
    try:
        async with engine_as(chain, chain.roles.requesters[0]) as requester, consuming(stream) as seen:
            posted = await _post(requester, 5)
            await _until(lambda: len(seen) == 5)
        assert _ids(seen) == posted and stream.stats.mode == "poll"
    finally:
        await proxy.close()
