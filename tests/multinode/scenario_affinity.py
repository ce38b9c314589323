"""Cache affinity versus random placement on a Cluster of three CPU nodes, seeded.

The program cache actor (pinned to the head) holds nine programs of 12 MiB (guest ELFs, padded, each
with its own image id), and a node's 80 MiB object store holds only about five; jobs pick programs with
a seeded generator, either one at a time (light load) or all at once (a burst). A program is *held* by
a node when Ray's object directory lists a copy there: the task's node got it earlier and kept it. A
job is a hit when, at its submission, the node that then ran it already held its program.

Arms (light: affinity, random, Ray's default; burst: affinity, random), each with fresh object copies
of the same programs (so no arm inherits another's warm nodes):
- affinity: `AffinityRuntime` (hash ring over live nodes, the next node on the ring when the owner is
  busy, soft node affinity);
- random: the same soft preference, to a node drawn by a seeded generator (the control);
- ray_default: no preference at all (Ray's own scheduler, which is locality-aware for large arguments).
Then ring_change: a node leaves, and only the images it owned move.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import harness as h
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.object_store import RayObjectStore
from actors.program_cache import ProgramCache
from zkray.node.affinity import AffinityPlacer, AffinityRuntime
from zkray.node.config import ProvingConfig
from zkray.node.proving import ProveRequest, ProvingPool
from zkray.node.proving.placement import TaskShape, fits
from zkray.node.proving.runtime import RayRuntime

WORK = Path(tempfile.mkdtemp(prefix="zkray-affinity-"))
SEED = 8
IMAGES = 9
LIGHT_JOBS = 30  # one job at a time: arrivals slower than proving, every node has a free slot
BURST_JOBS = 45  # all at once: every slot busy, so a job goes to whichever node frees first
PROGRAM_BYTES = 12 * h.MiB  # a node's 80 MiB object store holds about five of the nine


class MeasuredRuntime(RayRuntime):
    """The real runtime, noting where each task's program already was when the task was submitted."""

    def __init__(self) -> None:
        super().__init__(task=h.runtime()._task)
        self.held_at_submit: dict[str, list[str]] = {}  # job id -> nodes holding its program
        self.preferred: dict[str, str | None] = {}  # job id -> the node it was sent to (None: no preference)

    def submit(
        self, shape: Any, backend: Any, request: Any, remote: Any, name: str, *, node_id: str | None = None
    ) -> Any:
        program = request[1]
        located = ray.experimental.get_object_locations([program])[program]
        self.held_at_submit[name.split(":")[1]] = list(located["node_ids"])
        self.preferred[name.split(":")[1]] = node_id
        return super().submit(shape, backend, request, remote, name, node_id=node_id)


class RandomPlacer(AffinityPlacer):
    """The control: a seeded random fitting node per task, whatever the program."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self._rng = random.Random(seed)
        self._live: dict[str, Mapping[str, float]] = {}

    def update(self, nodes: list[tuple[str, Mapping[str, float]]]) -> tuple[set[str], set[str]]:
        self._live = dict(nodes)
        return super().update(nodes)

    def owner(self, key: str, shape: TaskShape, busy: Mapping[str, int] | None = None) -> str | None:
        fitting = sorted(n for n, r in self._live.items() if fits(shape, r))
        return self._rng.choice(fitting) if fitting else None


class NoPreference:
    """Ray's default scheduling: the measured runtime without a node preference."""

    def __init__(self, inner: MeasuredRuntime) -> None:
        self._inner = inner

    def nodes(self) -> list[Mapping[str, float]]:
        return self._inner.nodes()

    def submit(self, shape: Any, backend: Any, request: Any, remote: Any, name: str) -> Any:
        return self._inner.submit(shape, backend, request, remote, name)

    def wait(self, refs: Any, timeout_s: float) -> list[Any]:
        return self._inner.wait(refs, timeout_s)

    def result(self, ref: Any) -> bytes:
        return self._inner.result(ref)

    def kill(self, ref: Any) -> None:
        self._inner.kill(ref)


def programs() -> dict[str, bytes]:
    elfs = [(h.ROOT / "guest" / f"{g}.elf").read_bytes() for g in ("fib", "sort", "sha256")]
    out = {}
    for i in range(IMAGES):
        data = elfs[i % 3] + i.to_bytes(4, "little")  # a different program per image
        out[f"image-{i}"] = data + bytes(PROGRAM_BYTES - len(data))
    return out


def arm(name: str, head: str, make: Any, *, jobs_n: int, concurrency: int) -> dict[str, Any]:
    """Put fresh copies of the programs in a new cache, run the seeded job stream with at most
    `concurrency` jobs in the pool (arrivals slower than proving, or a burst), count hits."""
    cache = ray.remote(ProgramCache).options(
        num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(head, soft=False)
    )
    actor = cache.remote(IMAGES * PROGRAM_BYTES + h.MiB, None, store=RayObjectStore())
    refs = {image: ray.get(actor.put.remote(image, blob), timeout=60).handle for image, blob in programs().items()}
    measured = MeasuredRuntime()
    image_of: dict[str, str] = {}
    runtime = make(measured, image_of)
    pool = ProvingPool(runtime, ProvingConfig(task_timeout_s=120))
    rng = random.Random(SEED)
    waiting = []
    for i in range(jobs_n):
        job = f"{name}-{i}"
        image_of[job] = rng.choice(sorted(refs))
        waiting.append(ProveRequest(job, refs[image_of[job]], h.fib_input(job, 10 + i % 20), image_id=h.FIB_ID))
    done: dict[str, Any] = {}
    for _ in range(10 * jobs_n):  # bounded: each poll returns within a second
        while waiting and pool.pending() < concurrency:
            pool.submit(waiting.pop(0))
        if not waiting and not pool.pending():
            break
        done.update((o.job_id, o) for o in pool.poll(1.0))
    ran = {t["job"]: t["node"] for t in h.traces() if t["job"].startswith(f"{name}-") and t["event"] == "end"}
    hits = sum(1 for job, node in ran.items() if node in measured.held_at_submit.get(job, []))
    seen: set[tuple[str, str]] = set()
    misses = {"first_use_on_node": 0, "ran_elsewhere_than_sent": 0, "gone_from_node": 0}
    for i in range(jobs_n):  # why each miss happened, in submission order
        job = f"{name}-{i}"
        node = ran.get(job)
        if node is None:
            continue
        if node not in measured.held_at_submit.get(job, []):
            if measured.preferred.get(job) not in (None, node):
                misses["ran_elsewhere_than_sent"] += 1
            elif (image_of[job], node) not in seen:
                misses["first_use_on_node"] += 1
            else:
                misses["gone_from_node"] += 1
        seen.add((image_of[job], node))
    per_node: dict[str, int] = {}
    for node in ran.values():
        per_node[node[:8]] = per_node.get(node[:8], 0) + 1
    ray.kill(actor)
    return {"proved": sum(o.ok for o in done.values()), "ran": len(ran), "hits": hits,
            "hit_rate": hits / max(1, len(ran)), "jobs_per_node": per_node, "misses": misses,
            "preferences": {str(k)[:8]: v for k, v in getattr(runtime, "placements", {}).items()}}  # fmt: skip


def main() -> None:
    with h.cluster([{"num_cpus": 1}] * 3, head_store=(IMAGES * 2 + 8) * PROGRAM_BYTES) as (c, handles):
        head = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and "CPU" not in n["Resources"])
        warm = ProvingPool(h.runtime(), ProvingConfig())  # every node's worker imports the prover once
        warm.run([ProveRequest(f"warm-{i}", "fib", h.fib_input(f"warm-{i}", 5)) for i in range(6)], deadline_s=300)

        def by_image(image_of: dict[str, str]) -> Any:
            return lambda request: image_of[json_job(request[2])]

        def affinity(inner: Any, image_of: dict[str, str]) -> Any:
            return AffinityRuntime(inner, key_of=by_image(image_of))

        def random_placement(inner: Any, image_of: dict[str, str]) -> Any:
            return AffinityRuntime(inner, RandomPlacer(SEED), key_of=by_image(image_of))

        def ray_default(inner: Any, image_of: dict[str, str]) -> Any:
            return NoPreference(inner)

        def light(name: str, make: Any) -> Any:
            return lambda: arm(name, head, make, jobs_n=LIGHT_JOBS, concurrency=1)

        def burst(name: str, make: Any) -> Any:
            return lambda: arm(name, head, make, jobs_n=BURST_JOBS, concurrency=BURST_JOBS)

        def ring_change() -> dict[str, Any]:
            placer = AffinityPlacer()
            shape = TaskShape(1.0)
            placer.update([(n["NodeID"], n["Resources"]) for n in ray.nodes() if n["Alive"]])
            keys = [f"image-{i}" for i in range(200)]
            before = {k: placer.owner(k, shape) for k in keys}
            c.remove_node(handles[2])
            joined, left = placer.update([(n["NodeID"], n["Resources"]) for n in ray.nodes() if n["Alive"]])
            after = {k: placer.owner(k, shape) for k in keys}
            moved = [k for k in keys if before[k] != after[k]]
            return {"left": sorted(left), "removed": handles[2].node_id, "joined": sorted(joined),
                    "moved": len(moved), "keys": len(keys),
                    "moved_only_from_removed": all(before[k] == handles[2].node_id for k in moved),
                    "owned_by_removed": sum(1 for k in keys if before[k] == handles[2].node_id)}  # fmt: skip

        h.phases(
            ("light_affinity", light("la", affinity)),
            ("light_random", light("lr", random_placement)),
            ("light_ray_default", light("ld", ray_default)),
            ("burst_affinity", burst("ba", affinity)),
            ("burst_random", burst("br", random_placement)),
            ("ring_change", ring_change),
        )


def json_job(input_: bytes) -> str:
    import json

    return str(json.loads(input_)["job"])


if __name__ == "__main__":
    main()
