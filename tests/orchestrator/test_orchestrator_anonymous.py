"""Anonymous mode proves and verifies the demo locally, with no orchestrator."""

from __future__ import annotations

import asyncio

from zkray.orchestrator import run_anonymous


async def test_anonymous_mode_proves_the_demo_until_its_bound():
    stats = await asyncio.wait_for(run_anonymous(asyncio.Event(), interval_s=0.0, max_proofs=2), 120)
    assert stats.proofs_generated == 2 and stats.mean_prove_seconds > 0


async def test_anonymous_mode_stops_when_cancelled():
    cancel = asyncio.Event()
    cancel.set()
    stats = await asyncio.wait_for(run_anonymous(cancel), 10)
    assert stats.proofs_generated == 0
