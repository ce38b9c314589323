"""Where jobs come from: the engine's events, and a periodic sweep of the pending set for what they missed.

The event stream delivers each log once, in chain order, from the cursor stored in the journal (saved
after each event is handled, so a restart neither loses nor repeats one). The sweep
(`getPendingRequests`) runs at start, every `reconcile_s`, and catches anything the stream could not
see (a node that was down longer than the RPC keeps logs, a job skipped while admission was closed).
Either way a job reaches the node through `JobSink.offer_request`, which is idempotent: duplicate
and out-of-order events change nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from zkray.chain.events import Cursor, EngineEvent, EventStream
from zkray.node.chain_access import ChainAccess
from zkray.store import JobJournal

CURSOR_KEY = "engine-events"
EVENT_NAMES = {"ExecutionRequested", "ExecutionClaimed", "ExecutionCompleted", "ExecutionCancelled", "ClaimExpired"}


class JobSink(Protocol):
    """What the sources feed (the node's pipeline)."""

    async def offer_request(self, request_id: int, facts: dict[str, Any] | None = None) -> None: ...

    async def on_event(self, event: EngineEvent) -> None: ...


def load_cursor(journal: JobJournal) -> Cursor | None:
    value = journal.get_cursor(CURSOR_KEY)
    if value is None:
        return None
    block, index = value.split(":")
    return Cursor(int(block), int(index))


class EventSource:
    """Runs the engine's EventStream into the sink, saving the cursor after each handled event."""

    def __init__(
        self,
        rpc_url: str,
        engine: str,
        journal: JobJournal,
        sink: JobSink,
        *,
        ws_url: str | None,
        poll_s: float = 0.5,
        start_block: int | None = None,
    ) -> None:
        after = load_cursor(journal)
        if after is None and start_block is not None:
            after = Cursor.before_block(start_block)
        self.stream = EventStream(
            rpc_url, engine, ws_url=ws_url, after=after, names=EVENT_NAMES, poll_s=poll_s,
            reconnect_s=(0.1, 2.0), ws_failures_before_polling=5,
        )  # fmt: skip
        self.journal = journal
        self.sink = sink
        self.handled = 0

    async def run(self, cancel: asyncio.Event) -> None:
        async for event in self.stream.events(cancel):
            await self.sink.on_event(event)
            self.handled += 1
            cursor = event.cursor
            await asyncio.to_thread(self.journal.set_cursor, CURSOR_KEY, f"{cursor.block}:{cursor.log_index}")


class PendingSweep:
    """Every `period_s`, offers each request the engine lists as pending (the sink ignores known ones)."""

    def __init__(self, chain: ChainAccess, sink: JobSink, period_s: float) -> None:
        self.chain = chain
        self.sink = sink
        self.period_s = period_s
        self.sweeps = 0
        self._now = asyncio.Event()

    def trigger(self) -> None:
        """Sweep at once (after the chain comes back, after a gap in events)."""
        self._now.set()

    async def run(self, cancel: asyncio.Event) -> None:
        while not cancel.is_set():
            with contextlib.suppress(Exception):  # the rpc breaker counts failures; try next period
                for request_id in await self.chain.pending_ids():
                    await self.sink.offer_request(request_id)
                self.sweeps += 1
            self._now.clear()
            waiters = [asyncio.ensure_future(cancel.wait()), asyncio.ensure_future(self._now.wait())]
            _, _pending = await asyncio.wait(waiters, timeout=self.period_s, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
