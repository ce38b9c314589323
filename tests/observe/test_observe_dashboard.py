"""The dashboard in real headless Chromium: live job counts, the chart and the nodes table change as real
jobs move through a real journal; a screenshot is taken and checked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chromium_cdp import Chromium, Page
from observe_support import Clock, add, walk

from zkray.observe import LiveStats, RayNode
from zkray.policy.breaker import BreakerState
from zkray.policy.degradation import Mode
from zkray.policy.jobs import JobStatus as S
from zkray.store.journal import JobJournal

READ_PAGE = """(() => {
  if (!document.getElementById('chart')) return null;  // still loading
  const jobs = {};
  for (const td of document.querySelectorAll('#jobs td[data-state]')) jobs[td.dataset.state] = Number(td.textContent);
  const chart = document.getElementById('chart');
  return {
    polls: Number(document.body.dataset.polls || 0),
    jobs,
    proofs: document.getElementById('proofs').textContent,
    cycles: document.getElementById('cycles').textContent,
    earned: document.getElementById('earned').textContent,
    mode: document.getElementById('mode').textContent,
    provingNow: document.getElementById('proving-now').textContent,
    nodes: document.querySelector('#nodes tbody').innerText,
    breakers: document.querySelector('#breakers tbody').innerText,
    caches: document.querySelector('#caches tbody').innerText,
    chartPoints: Number(chart.dataset.points || 0),
    chartMax: Number(chart.dataset.max || 0),
    throughput: document.getElementById('throughput-latest').textContent,
  };
})()"""


async def wait_for(page: Page, ok: Callable[[dict[str, Any]], bool], what: str, clock: Clock) -> dict[str, Any]:
    """Poll the rendered DOM until `ok` (bounded); the page polls /api/status every second by itself.
    Each round moves the test clock on, so every poll the page makes is a fresh throughput interval."""
    seen: dict[str, Any] | None = None
    for _ in range(300):
        seen = await page.evaluate(READ_PAGE)
        if seen is not None and ok(seen):
            return seen
        clock.advance(1.0)
        await asyncio.sleep(0.1)
    raise AssertionError(f"the dashboard never showed {what}; last seen: {seen}")


async def test_dashboard_shows_live_values_in_chromium(
    journal: JobJournal, live: LiveStats, clock: Clock, server: str, tmp_path: Path
):
    live.nodes = [RayNode(node_id="a1b2c3d4e5f6a7b8", address="10.0.0.7", cpus=16, gpus=1, proving=[]),
                  RayNode(node_id="ffee00112233", address="10.0.0.8", cpus=8, gpus=0)]  # fmt: skip
    live.breakers = {"rpc": BreakerState.CLOSED.value}
    live.caches = {"proof": {"hits": 0, "misses": 0}}
    for i in range(6):
        add(journal, f"job-{i}")

    async with Chromium(tmp_path / "profile") as browser:
        page = await browser.open(server + "/")
        first = await wait_for(page, lambda s: s["jobs"].get("discovered") == 6, "6 discovered jobs", clock)
        assert first["proofs"] == "0" and first["earned"] == "0.000000 ETH" and first["mode"] == "normal"
        assert "10.0.0.7" in first["nodes"] and "16" in first["nodes"] and "idle" in first["nodes"]

        # jobs move on: one proving on the GPU node, two completed and paid, the rest queued
        walk(journal, "job-0", S.PROVING, cycles=65_536)
        live.nodes[0].proving = ["job-0"]
        walk(journal, "job-1", S.COMPLETED, cycles=131_072, payout_wei=12 * 10**14)
        walk(journal, "job-2", S.COMPLETED, cycles=262_144, payout_wei=3 * 10**14 + 1)
        for i in (3, 4):
            walk(journal, f"job-{i}", S.QUEUED)
        live.breakers = {"rpc": BreakerState.OPEN.value}
        live.caches = {"proof": {"hits": 5, "misses": 2}}
        live.mode, live.mode_reason = Mode.MINIMAL, "the chain RPC is unreachable"

        def moved(s: dict[str, Any]) -> bool:
            return s["jobs"] == {"discovered": 1, "queued": 2, "proving": 1, "completed": 2} and s["mode"] == "minimal"

        later = await wait_for(page, moved, "the jobs' new states", clock)
        assert later["proofs"] == "2" and later["cycles"] == "393,216"
        assert later["earned"] == "0.001500 ETH"  # 1.5e15 + 1 wei, exact with BigInt
        assert later["provingNow"] == "job-0" and "job-0" in later["nodes"]
        assert "rpc\topen" in later["breakers"] and "proof\t5\t2" in later["caches"]

        # the chart: after the proofs, a sample with a non-zero rate, drawn as a line of several points
        shown = await wait_for(page, lambda s: s["chartPoints"] >= 3 and s["chartMax"] > 1, "a throughput chart", clock)
        assert "proofs/min" in shown["throughput"]
        png = await page.screenshot(tmp_path / "dashboard.png")

    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert (tmp_path / "dashboard.png").stat().st_size == len(png)
