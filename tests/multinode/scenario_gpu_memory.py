"""GPU memory per segment on a Cluster: two fake GPU nodes of different memory and one CPU node.

The GPU nodes declare their memory as the `gpu_memory_gib` custom resource (8 GiB and 24 GiB, as
cluster.yaml's node types declare theirs); the node's runtime (`AffinityRuntime(gpu_memory_gib=…)`)
declares what a GPU task's segment needs. Phases, in order, on one cluster:
- fits_big_only: tasks needing 16 GiB run only on the 24 GiB node, never on the 8 GiB one, and the pool
  counts only the big node's GPU slot.
- preferred_small: a task needing 16 GiB sent with a soft preference for the 8 GiB node still runs on the
  24 GiB one (Ray's resource check, not only zkray's placement, keeps it off the small GPU).
- too_big: tasks needing 40 GiB find no GPU that fits: GPU is not runnable, and jobs run on CPU.
"""

from __future__ import annotations

from typing import Any

import harness as h

from zkray.node.affinity import AffinityRuntime
from zkray.node.config import ProvingConfig
from zkray.node.proving import ProveRequest, ProvingPool
from zkray.node.proving.placement import TaskShape
from zkray.policy.degradation import ProverBackend as B

SMALL_GIB, BIG_GIB = 8.0, 24.0


def main() -> None:
    specs = [
        {"num_cpus": 1, "num_gpus": 1, "resources": {"gpu_memory_gib": SMALL_GIB}},
        {"num_cpus": 1, "num_gpus": 1, "resources": {"gpu_memory_gib": BIG_GIB}},
        {"num_cpus": 1},
    ]
    with h.cluster(specs) as (_c, handles):
        small, big, cpu = (n.node_id for n in handles)

        def ran(prefix: str) -> list[dict[str, Any]]:
            return [{"job": t["job"], "node": t["node"], "gpus": t["gpus"], "backend": t["backend"]}
                    for t in h.traces() if t["job"].startswith(prefix) and t["event"] == "end"]  # fmt: skip

        def fits_big_only() -> dict[str, Any]:
            runtime = AffinityRuntime(h.runtime(), gpu_memory_gib=16.0)
            pool = ProvingPool(runtime, ProvingConfig(backends=(B.GPU,)))
            seen = runtime.nodes()
            jobs = [ProveRequest(f"fit-{i}", "fib", h.fib_input(f"fit-{i}", 10 + i)) for i in range(4)]
            done = pool.run(jobs, deadline_s=180)
            return {"proved": sorted(j for j, o in done.items() if o.ok), "runnable": list(pool.runnable),
                    "gpus_seen": sorted(r.get("GPU", 0.0) for r in seen), "ran": ran("fit-"),
                    "small": small, "big": big, "cpu": cpu}  # fmt: skip

        def preferred_small() -> dict[str, Any]:
            runtime = h.runtime()
            shape = TaskShape(1.0, 1.0, gpu_memory_gib=16.0)
            request = ("builtin", "fib", h.fib_input("pref-0", 12), None, None)
            ref = runtime.submit(shape, B.GPU, request, None, "pref-0", node_id=small)
            assert runtime.wait([ref], 120), "the task never finished"
            runtime.result(ref)
            return {"ran": ran("pref-"), "small": small, "big": big}

        def too_big() -> dict[str, Any]:
            runtime = AffinityRuntime(h.runtime(), gpu_memory_gib=40.0)
            pool = ProvingPool(runtime, ProvingConfig(backends=(B.GPU, B.CPU)))
            jobs = [ProveRequest(f"big-{i}", "fib", h.fib_input(f"big-{i}", 10 + i)) for i in range(2)]
            done = pool.run(jobs, deadline_s=180)
            return {"proved": sorted(j for j, o in done.items() if o.ok), "runnable": list(pool.runnable),
                    "backends": {j: list(o.backends) for j, o in done.items()}, "ran": ran("big-"),
                    "cpu": cpu}  # fmt: skip

        h.phases(("fits_big_only", fits_big_only), ("preferred_small", preferred_small), ("too_big", too_big))


if __name__ == "__main__":
    main()
