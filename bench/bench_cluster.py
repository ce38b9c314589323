"""Multi-node throughput and recovery on one machine: jobs per minute with 1, 2 and 3 worker nodes, and
the time to recover a proof after its node is lost.

    .venv/bin/python bench/bench_cluster.py [--jobs 24] [--n 30] [--rounds 2]

The nodes are `ray.cluster_utils.Cluster` nodes (one CPU each) on this machine, so they share its cores:
on a 2-core machine a third node adds scheduling slots, not compute, and the figures say so. Each node's
worker proves a few warm-up jobs first (imports, numba compilation) so the rounds time steady-state
proving. Jobs go through the real pool with cache affinity (`AffinityRuntime(RayRuntime())`), every
receipt verified in its task.

Recovery: with three nodes, a job made slow on purpose (a drill that sleeps before proving) runs on a
node that is then removed; the figures are removal → the pool sees the task crash, and removal → the
job's proof arrives from another node.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "multinode"))

import harness as h

from zkray.node.affinity import AffinityRuntime
from zkray.node.config import ProvingConfig
from zkray.node.proving import Fault, ProveRequest, ProvingPool


def pool() -> ProvingPool:
    return ProvingPool(AffinityRuntime(h.runtime()), ProvingConfig(task_timeout_s=300))


def burst(tag: str, jobs: int, n: int) -> float:
    """Prove `jobs` fib(n) jobs at once; jobs per minute."""
    requests = [ProveRequest(f"{tag}-{i}", "fib", h.fib_input(f"{tag}-{i}", n)) for i in range(jobs)]
    started = time.perf_counter()
    done = pool().run(requests, deadline_s=900)
    seconds = time.perf_counter() - started
    proved = sum(o.ok for o in done.values())
    if proved != jobs:
        raise RuntimeError(f"{tag}: {proved} of {jobs} proved")
    return 60.0 * jobs / seconds


def warm(tag: str, nodes: int) -> None:
    pool().run(
        [ProveRequest(f"{tag}-{i}", "fib", h.fib_input(f"{tag}-{i}", 5)) for i in range(3 * nodes)], deadline_s=900
    )


def recovery(c: h.Cluster, n: int) -> dict[str, float]:
    """Remove the node running a slow job; time until the crash is seen and until the job is proved."""
    p = pool()
    marker = Path(h.trace_dir()) / "recovery.slow"
    p.submit(ProveRequest("rec-0", "fib", h.fib_input("rec-0", n), fault=Fault("hang", str(marker), seconds=120)))
    p.poll(0.1)
    assert h.wait_for(lambda: any(t["job"] == "rec-0" for t in h.traces()), 120), "the slow job never started"
    victim = next(t["node"] for t in h.traces() if t["job"] == "rec-0")
    node = next(x for x in c.worker_nodes if x.node_id == victim)
    removed = time.perf_counter()
    c.remove_node(node)
    seen = proved = None
    for _ in range(600):  # bounded: each poll returns within a second
        outcomes = p.poll(1.0)
        if seen is None and p.counters["crashes"]:
            seen = time.perf_counter() - removed
        if any(o.ok for o in outcomes):
            proved = time.perf_counter() - removed
            break
    if seen is None or proved is None:
        raise RuntimeError(f"no recovery: {p.stats()}")
    return {"crash_seen_s": seen, "reproved_s": proved}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=24, help="jobs per round")
    parser.add_argument("--n", type=int, default=30, help="fib(n) per job")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per node count (median reported)")
    args = parser.parse_args()
    rows = []
    with h.cluster([{"num_cpus": 1}]) as (c, _handles):
        for nodes in (1, 2, 3):
            if nodes > 1:
                c.add_node(num_cpus=1, object_store_memory=80 * h.MiB)
                c.wait_for_nodes()
            warm(f"warm{nodes}", nodes)
            rates = [burst(f"b{nodes}-{r}", args.jobs, args.n) for r in range(args.rounds)]
            rows.append({"worker_nodes": nodes, "jobs_per_min": statistics.median(rates), "rounds": rates})
        rec = recovery(c, args.n)
    print(f"{'worker nodes':>12} {'jobs/min':>9}  rounds")
    for row in rows:
        rounds = ", ".join(f"{r:.0f}" for r in row["rounds"])
        print(f"{row['worker_nodes']:>12} {row['jobs_per_min']:>9.0f}  {rounds}")
    print(f"recovery after a node loss: crash seen in {rec['crash_seen_s']:.1f} s, "
          f"proof from another node {rec['reproved_s']:.1f} s after the removal")  # fmt: skip
    print("JSON " + json.dumps({"rows": rows, "recovery": rec, "jobs": args.jobs, "n": args.n}))


if __name__ == "__main__":
    main()
