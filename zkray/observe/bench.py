"""How much the dashboard's polling and a Prometheus scrape cost: requests per second and latency.

`python -m zkray.observe.bench --jobs 2000` fills a fresh journal through real transitions (a quarter
each in PROVING, PROVED, COMPLETED, QUEUED), serves the observability app on a loopback port and polls
each endpoint from one client for a few seconds. One client, sequential requests: the figure is the
server's cost per request, which is what a dashboard left open all day adds to the node.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from zkray.observe.dashboard import create_app
from zkray.observe.status import JournalStatusSource, LiveStats
from zkray.policy.jobs import JobStatus
from zkray.store.journal import JobJournal

S = JobStatus
PATH = [S.QUEUED, S.FETCHING, S.PREFLIGHT, S.CLAIMING, S.CLAIMED, S.PROVING, S.PROVED, S.SUBMITTING, S.COMPLETED]


def fill(journal: JobJournal, jobs: int) -> None:
    """Jobs spread over four states, each reached through the guarded transitions."""
    targets = [S.PROVING, S.PROVED, S.COMPLETED, S.QUEUED]
    for i in range(jobs):
        job_id = f"bench:{i}"
        journal.add_job(job_id, source="bench", image_id="0x" + "ab" * 32, input_url="", input_digest="0x" + "cd" * 32,
                        tip_wei=10**15, expires_at=time.time() + 3600)  # fmt: skip
        target = targets[i % len(targets)]
        for status in PATH:
            extra: dict = {"cycles": 4096} if status is S.PREFLIGHT else {}
            if status is S.PROVED:
                extra["proof"] = job_id.encode()
            if status is S.COMPLETED:
                extra["payload"] = {"payout_wei": str(9 * 10**14)}
            journal.transition(job_id, status, **extra)
            if status is target:
                break


async def poll(url: str, seconds: float) -> tuple[float, float, float]:
    """(requests per second, p50 ms, p99 ms) for sequential GETs of `url` over `seconds`."""
    latencies = []
    async with aiohttp.ClientSession() as http:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            async with http.get(url) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            latencies.append(time.perf_counter() - t0)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return len(latencies) / sum(latencies), statistics.median(latencies) * 1e3, p99 * 1e3


async def main(jobs: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        journal = JobJournal(Path(tmp) / "bench.sqlite")
        t0 = time.perf_counter()
        fill(journal, jobs)
        print(f"journal: {jobs} jobs filled in {time.perf_counter() - t0:.1f} s")
        live = LiveStats(prove_durations_s=[0.5] * jobs, breakers={"rpc": "closed", "attester": "closed"},
                         caches={"proof": {"hits": 10, "misses": 3}})  # fmt: skip
        runner = web.AppRunner(create_app(JournalStatusSource(journal, lambda: live)), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        print(f"{'endpoint':<12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for path in ("/api/status", "/metrics", "/readyz", "/healthz"):
            rps, p50, p99 = await poll(base + path, seconds)
            print(f"{path:<12} {rps:>8.0f} {p50:>8.2f} {p99:>8.2f}")
        await runner.cleanup()
        journal.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.seconds))
