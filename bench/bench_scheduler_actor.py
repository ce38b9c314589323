"""Benchmark (not a test): scheduler and breaker operations per second in-process vs through their actors,
the way the node calls them.

    .venv/bin/python bench/bench_scheduler_actor.py --ops 500

Starts its own local Ray. For each way of calling, `ops` offers then `ops` next_job calls (each one
journal write + fsync), and `ops` breaker `allow` calls (no I/O: the bare round trip):

- in-process: the plain `JobScheduler` / `CircuitBreakers`, as the node hosted them before;
- handle, blocking: `SchedulerHandle.offer(...)`, one round trip after another (the stages' path);
- handle, awaited: `await SchedulerHandle.call("offer", ...)` (the dispatcher's and admission's path);
- pipelined: every call sent before the first answer is read (the actor's own ceiling).
Figures go to stdout; docs/node-wiring.md quotes them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable

import ray

from actors.breakers import RPC, CircuitBreakers
from actors.factory import start_circuit_breakers, start_job_scheduler
from actors.handles import BreakersHandle, SchedulerHandle
from actors.scheduler import JobOffer, JobScheduler


def offers(n: int, tag: str) -> list[JobOffer]:
    return [JobOffer(f"{tag}{i}", "bench", "aa", "ipfs://x", "dd", 10**15 + i, time.time(), 4e9) for i in range(n)]


def rate(ops: int, run: Callable[[], object]) -> float:
    t = time.perf_counter()
    run()
    return ops / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=500)
    n = parser.parse_args().ops
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    with tempfile.TemporaryDirectory() as tmp:
        local = JobScheduler(os.path.join(tmp, "local.db"), capacity=n)
        handle = SchedulerHandle(start_job_scheduler(os.path.join(tmp, "actor.db"), capacity=4 * n))
        handle.snapshot()  # the actor is up before timing
        rows: list[tuple[str, float, float]] = []

        def both(call: Callable[[str, object], object], tag: str) -> tuple[float, float]:
            jobs = offers(n, tag)
            o = rate(n, lambda: [call("offer", j) for j in jobs])
            x = rate(n, lambda: [call("next_job", None) for _ in range(n)])
            return o, x

        rows.append(("in-process", *both(lambda m, a: getattr(local, m)(*([a] if a else [])), "l")))
        rows.append(("handle, blocking", *both(lambda m, a: getattr(handle, m)(*([a] if a else [])), "b")))

        async def awaited_many(method: str, args: list[object]) -> None:
            for a in args:
                await handle.call(method, *([a] if a else []))

        jobs = offers(n, "a")
        o = rate(n, lambda: asyncio.run(awaited_many("offer", list(jobs))))
        x = rate(n, lambda: asyncio.run(awaited_many("next_job", [None] * n)))
        rows.append(("handle, awaited", o, x))
        jobs = offers(n, "p")
        o = rate(n, lambda: ray.get([handle.actor.offer.remote(j) for j in jobs]))
        x = rate(n, lambda: ray.get([handle.actor.next_job.remote() for _ in range(n)]))
        rows.append(("pipelined", o, x))

        breakers = CircuitBreakers()
        remote = BreakersHandle(start_circuit_breakers())
        remote.register(RPC)
        allow_local = rate(n, lambda: [breakers.allow(RPC) for _ in range(n)])
        allow_remote = rate(n, lambda: [remote.allow(RPC) for _ in range(n)])
        record_remote = rate(n, lambda: ([remote.record(RPC, True) for _ in range(n)], remote.allow(RPC)))

    print(f"scheduler, {n} ops each (offer/next_job: one journal write + fsync)")
    for name, o, x in rows:
        print(f"  {name:<18} offer {o:8.0f}/s   next_job {x:8.0f}/s")
    print(f"breakers allow: in-process {allow_local:.0f}/s, through the actor {allow_remote:.0f}/s; "
          f"record (sent without waiting) {record_remote:.0f}/s")  # fmt: skip
    ray.shutdown()


if __name__ == "__main__":
    main()
