"""Fixtures for the observability tests: a real SQLite journal, live stats the test mutates, and the
observability app served over real HTTP on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from observe_support import Clock

from zkray.observe import JournalStatusSource, LiveStats, ThroughputHistory, serve
from zkray.store.journal import JobJournal


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journal(tmp_path: Path, clock: Clock) -> Iterator[JobJournal]:
    with JobJournal(tmp_path / "journal.sqlite", clock=clock) as j:
        yield j


@pytest.fixture
def live() -> LiveStats:
    """The node's live view; tests change its fields and the next snapshot shows it."""
    return LiveStats()


@pytest.fixture
def source(journal: JobJournal, live: LiveStats, clock: Clock) -> JournalStatusSource:
    return JournalStatusSource(journal, lambda: live, clock=clock, history=ThroughputHistory(interval_s=1.0))


@pytest.fixture
async def server(source: JournalStatusSource) -> AsyncIterator[str]:
    """The stand-alone observability app on 127.0.0.1:<ephemeral>; yields its base URL."""
    runner, url = await serve(source)
    try:
        yield url
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session
