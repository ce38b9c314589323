"""Benchmark (not a test): Ray's overhead per proof, pool throughput, and scheduler operations per second.

    .venv/bin/python tests/node/bench_node_proving.py

Starts its own local Ray (num_cpus = the machine's cores). Figures go to stdout; see docs/node.md.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import ray

from actors.factory import start_job_scheduler
from actors.scheduler import JobOffer, JobScheduler
from zkray import prove
from zkray.node.config import ProvingConfig
from zkray.node.proving import ProveRequest, ProvingPool
from zkray.node.proving.runtime import RayRuntime

N = 200  # fib rows: a small proof, where overhead shows most
REPS = 15


def fib(n: int) -> bytes:
    return n.to_bytes(4, "little")


def overhead_s(pool: ProvingPool) -> tuple[float, float]:
    """Median seconds per fib(N) proof called directly (prove + verify, as the task does) and through the
    pool as a Ray task, measured alternately so that load from other processes hits both alike."""
    prove("fib", fib(N)).verify()  # warm numba in this process
    pool.run([ProveRequest("warm", "fib", fib(N))], deadline_s=120)  # and in a worker
    direct, via_pool = [], []
    for i in range(REPS):
        t = time.perf_counter()
        prove("fib", fib(N)).verify()
        direct.append(time.perf_counter() - t)
        t = time.perf_counter()
        done = pool.run([ProveRequest(f"seq-{i}", "fib", fib(N))], deadline_s=120)
        assert done[f"seq-{i}"].ok
        via_pool.append(time.perf_counter() - t)
    return statistics.median(direct), statistics.median(via_pool)


def throughput(pool: ProvingPool, jobs: int) -> float:
    t = time.perf_counter()
    done = pool.run([ProveRequest(f"tp-{i}", "fib", fib(N)) for i in range(jobs)], deadline_s=600)
    assert all(o.ok for o in done.values()) and len(done) == jobs
    return jobs / (time.perf_counter() - t) * 60


def scheduler_ops(n: int = 1000) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sched = JobScheduler(os.path.join(tmp, "j.db"), capacity=n)
        offers = [JobOffer(f"j{i}", "bench", "aa", "ipfs://x", "dd", 10**15 + i, 0.0, 4e9) for i in range(n)]
        t = time.perf_counter()
        for o in offers:
            sched.offer(o)
        for _ in range(n):
            sched.next_job()
        local = 2 * n / (time.perf_counter() - t)
        actor = start_job_scheduler(os.path.join(tmp, "a.db"), capacity=n)
        t = time.perf_counter()
        ray.get([actor.offer.remote(o) for o in offers])
        ray.get([actor.next_job.remote() for _ in range(n)])
        remote = 2 * n / (time.perf_counter() - t)
        ray.kill(actor)
    return local, remote


def main() -> None:
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    pool = ProvingPool(RayRuntime(), ProvingConfig(max_concurrent=os.cpu_count() or 1))
    d, p = overhead_s(pool)
    print(
        f"fib({N}) proof: direct {d * 1000:.0f} ms, as a Ray task via the pool {p * 1000:.0f} ms "
        f"(overhead {1000 * (p - d):.0f} ms per proof)"
    )
    rate = throughput(pool, 16)
    print(f"pool throughput, 16 concurrent fib({N}) jobs on {os.cpu_count()} cores: {rate:.0f} proofs/min")
    local, remote = scheduler_ops()
    print(f"scheduler: {local:.0f} ops/s in-process (offer or next_job, one fsync each), {remote:.0f} via the actor")
    ray.shutdown()


if __name__ == "__main__":
    main()
