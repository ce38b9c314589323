"""Loopback figures for orchestrator mode (not a test): run `.venv/bin/python tests/orchestrator/bench_orchestrator.py`.

Prints: end-to-end throughput of one pull worker on N real tasks; task-poll requests per second the
server answers (404s, the cheapest and most frequent request of an idle fleet); submission latency
(hash + signature + receipt verification + HTTP) per proof.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from zkray.orchestrator import NodeKey, OrchestratorClient, OrchestratorServer, PullWorker, ServerConfig, WorkerConfig
from zkray.orchestrator.programs import prove_task

N_TASKS = int(sys.argv[1]) if len(sys.argv) > 1 else 50


async def end_to_end(tmp: Path) -> None:
    server = OrchestratorServer(ServerConfig(poll_rate=1e6, poll_burst=1e6))
    await server.start()
    for n in range(N_TASKS):
        server.add_task("fast-fib", struct.pack("<I", 10 + n % 40))
    config = WorkerConfig(
        orchestrator_url=server.url,
        key_file=tmp / "k",
        key_env="UNSET_BENCH_KEY",
        provers=2,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
        idle_poll_s=0.01,
        max_404s=1,
        seed=1,
    )
    started = time.perf_counter()
    stats = await PullWorker(config).run(asyncio.Event())
    elapsed = time.perf_counter() - started
    await server.stop()
    print(
        f"end to end: {stats.proofs_submitted}/{N_TASKS} accepted in {elapsed:.2f} s = "
        f"{stats.proofs_submitted / elapsed:.1f} proofs/s (mean prove {stats.mean_prove_seconds * 1000:.0f} ms)"
    )


async def poll_rate() -> None:
    server = OrchestratorServer(ServerConfig(poll_rate=1e6, poll_burst=1e6))
    await server.start()
    key = NodeKey.generate()
    async with aiohttp.ClientSession() as session:
        client = OrchestratorClient(server.url, session)
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < 3.0:
            try:
                await client.get_tasks("bench", key, 10)
            except Exception:
                count += 1
        elapsed = time.perf_counter() - started
    await server.stop()
    print(f"task polls (404, one connection, sequential): {count / elapsed:.0f} requests/s")


async def submit_latency() -> None:
    server = OrchestratorServer(ServerConfig(poll_rate=1e6, poll_burst=1e6))
    await server.start()
    key = NodeKey.generate()
    for n in range(20):
        server.add_task("fast-fib", struct.pack("<I", 20 + n))
    async with aiohttp.ClientSession() as session:
        client = OrchestratorClient(server.url, session)
        tasks = await client.get_tasks("bench", key, 20)
        proofs = [await asyncio.to_thread(prove_task, t.program_id, t.public_inputs) for t in tasks]
        times = []
        for task, proof in zip(tasks, proofs, strict=True):
            started = time.perf_counter()
            await client.submit("bench", key, task.task_id, proof)
            times.append(time.perf_counter() - started)
    await server.stop()
    print(
        f"submission (hash, sign, verify receipt, HTTP): median {statistics.median(times) * 1000:.1f} ms, "
        f"proof {len(proofs[0])} bytes"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await end_to_end(Path(tmp))
    await poll_rate()
    await submit_latency()


if __name__ == "__main__":
    asyncio.run(main())
