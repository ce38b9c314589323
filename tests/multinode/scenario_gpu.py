"""GPU placement and GPU node loss on a Cluster: two fake GPU nodes and one CPU node (1 CPU each).

Phases, in order, on one cluster (starting one costs ~30 s on 2 cores):
- placement: GPU-only config; every prove task runs on a GPU node and sees its GPU.
- gpu_node_lost: a GPU node removed while a job's task runs on it; the job re-runs elsewhere, every
  job completes and is submitted exactly once.
- all_gpu_gone: the last GPU node removed mid-proof; the GPU breaker opens, the scheduler's degradation
  mode turns DEGRADED naming the GPU, and later jobs run on CPU.
- no_gpu: a fresh pool on the now GPU-less cluster can run only CPU tasks, and they run on CPU.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import harness as h
import ray

from zkray.node.config import ProvingConfig
from zkray.node.proving import Fault, ProveRequest, ProvingPool
from zkray.policy.degradation import ProverBackend as B

WORK = Path(tempfile.mkdtemp(prefix="zkray-gpu-"))


def main() -> None:
    specs = [{"num_cpus": 1, "num_gpus": 1}, {"num_cpus": 1, "num_gpus": 1}, {"num_cpus": 1}]
    with h.cluster(specs) as (c, handles):
        gpu_nodes = {handles[0].node_id: handles[0], handles[1].node_id: handles[1]}
        cpu_node = handles[2].node_id

        def placement() -> dict[str, Any]:
            pool = ProvingPool(h.runtime(), ProvingConfig(backends=(B.GPU,)))
            jobs = [ProveRequest(f"place-{i}", "fib", h.fib_input(f"place-{i}", 10 + i)) for i in range(4)]
            done = pool.run(jobs, deadline_s=180)
            ran = [t for t in h.traces() if t["job"].startswith("place-") and t["event"] == "end"]
            return {"proved": sorted(j for j, o in done.items() if o.ok), "runnable": list(pool.runnable),
                    "ran": [{"job": t["job"], "node": t["node"], "gpus": t["gpus"]} for t in ran],
                    "gpu_nodes": sorted(gpu_nodes), "cpu_node": cpu_node}  # fmt: skip

        def gpu_node_lost() -> dict[str, Any]:
            driver, _ = h.start_driver(WORK / "lost.sqlite", ProvingConfig(task_timeout_s=120))
            hang = Fault("hang", str(WORK / "lost-0.hang"), seconds=90)
            jobs = [ProveRequest("lost-0", "fib", h.fib_input("lost-0", 20), fault=hang)]
            jobs += [ProveRequest(f"lost-{i}", "fib", h.fib_input(f"lost-{i}", 20 + i)) for i in range(1, 4)]
            for job in jobs:
                driver.admit(job)
            driver.step(0.1)

            def started() -> dict[str, Any] | None:
                return next((t for t in h.traces() if t["job"] == "lost-0" and t["event"] == "start"), None)

            assert h.wait_for(lambda: started() is not None, 120), "lost-0 never started"
            victim = started()["node"]  # type: ignore[index]
            c.remove_node(gpu_nodes.pop(victim))
            # no refresh_cluster here: the pool re-reads the nodes itself (every 5 s)
            all_done = driver.run_until(lambda: all(driver.status(j.job_id) == "completed" for j in jobs), 240)
            mine = [t for t in h.traces() if t["job"].startswith("lost-")]
            statuses = {j.job_id: driver.status(j.job_id) for j in jobs}
            return {"victim": victim, "all_done": all_done, "statuses": statuses,
                    "submissions": driver.submissions, "traces": mine,
                    "attempts": {j: [list(o.backends) for o in outs] for j, outs in driver.outcomes.items()},
                    "runnable_after": list(driver.pool.runnable)}  # fmt: skip

        def all_gpu_gone() -> dict[str, Any]:
            driver, breakers = h.start_driver(
                WORK / "gone.sqlite", ProvingConfig(task_timeout_s=120), failure_threshold=1
            )
            last = next(iter(gpu_nodes))
            hang = Fault("hang", str(WORK / "gone-0.hang"), seconds=90)
            driver.admit(ProveRequest("gone-0", "fib", h.fib_input("gone-0", 15), fault=hang))
            driver.step(0.1)
            assert h.wait_for(lambda: any(t["job"] == "gone-0" for t in h.traces()), 120), "gone-0 never started"
            c.remove_node(gpu_nodes.pop(last))
            modes: list[str] = []

            def follow_health() -> None:  # what the node's loop does with its breakers (pipeline.py)
                signals = ray.get(breakers.signals.remote(), timeout=60)
                modes.append(str(driver.call("update_health", signals).value))
                driver.pool.set_flags(driver.call("flags"))

            ok = driver.run_until(lambda: driver.status("gone-0") == "completed", 240, follow_health)
            later = [ProveRequest(f"gone-{i}", "fib", h.fib_input(f"gone-{i}", 15 + i)) for i in (1, 2)]
            for job in later:
                driver.admit(job)
            ok = ok and driver.run_until(
                lambda: all(driver.status(j.job_id) == "completed" for j in later), 240, follow_health
            )
            # the pool re-reads the nodes every 5 s: its view may lag the removal by that much
            ok = ok and driver.run_until(lambda: driver.pool.runnable == (B.CPU,), 30, follow_health)
            snapshot = driver.call("snapshot")
            mine = [t for t in h.traces() if t["job"].startswith("gone-")]
            return {"removed": last, "all_done": ok, "mode": snapshot["mode"], "reason": snapshot["mode_reason"],
                    "flags": snapshot["flags"], "modes_seen": sorted(set(modes)), "traces": mine,
                    "runnable": list(driver.pool.runnable), "submissions": driver.submissions}  # fmt: skip

        def no_gpu() -> dict[str, Any]:
            pool = ProvingPool(h.runtime(), ProvingConfig())
            jobs = [ProveRequest(f"cpu-{i}", "fib", h.fib_input(f"cpu-{i}", 12 + i)) for i in range(3)]
            done = pool.run(jobs, deadline_s=180)
            ran = [t for t in h.traces() if t["job"].startswith("cpu-") and t["event"] == "end"]
            return {"proved": sorted(j for j, o in done.items() if o.ok), "runnable": list(pool.runnable),
                    "backends": {j: list(o.backends) for j, o in done.items()},
                    "ran": [{"job": t["job"], "node": t["node"], "gpus": t["gpus"]} for t in ran]}  # fmt: skip

        h.phases(("placement", placement), ("gpu_node_lost", gpu_node_lost), ("all_gpu_gone", all_gpu_gone),
                 ("no_gpu", no_gpu))  # fmt: skip


if __name__ == "__main__":
    main()
