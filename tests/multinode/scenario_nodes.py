"""Node and actor loss on a Cluster of CPU nodes (1 CPU each): the program cache's node removed, the
scheduler actor killed, a node added mid-run.

Phases, in order, on one cluster (head with no CPUs, workers n1 and n2; n3 joins in the last phase):
- cache_node_lost: the program cache actor lives on n2 and holds three programs (one spilled to its disk
  tier); n2 is removed while jobs use the cached programs. The node restarts the cache, which finds the
  spilled program on disk and re-fetches the others from their origin; every job completes, once.
- scheduler_killed: the scheduler actor is killed with jobs queued, one proving and one completed; Ray
  restarts it, its constructor rebuilds the queue from the SQLite journal, and the proving job's proof
  is stored and submitted once.
- node_added: a node joins while a backlog waits on one CPU node; it receives work.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import harness as h
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.object_store import RayObjectStore
from actors.program_cache import ProgramCache
from zkray.node.config import ProvingConfig
from zkray.node.proving import Fault, ProveRequest
from zkray.policy.jobs import JobStatus

WORK = Path(tempfile.mkdtemp(prefix="zkray-nodes-"))
KiB = 1024
PROGRAM_BYTES = 256 * KiB  # above Ray's 100 KiB inline limit, so programs live in the object store


def origin() -> dict[str, bytes]:
    """The programs' origin (the chain's registry, an IPFS gateway): the guest ELFs, each padded to a
    realistic program size; keyed by image id (here the digest of the bytes)."""
    out = {}
    for elf in ("fib", "sort", "sha256"):
        data = (h.ROOT / "guest" / f"{elf}.elf").read_bytes()
        blob = data + bytes(PROGRAM_BYTES - len(data))
        out[hashlib.sha256(blob).hexdigest()] = blob
    return out


class Programs:
    """The node's way to a program: the cache actor, restarted (same disk tier) if it died, then the origin."""

    def __init__(self, directory: Path, node_id: str | None) -> None:
        self.directory = directory
        self.origin = origin()
        self.handle = self._start(node_id)
        self.restarts = 0
        self.tiers: list[str] = []  # where each lookup was served: memory, disk or origin

    def _start(self, node_id: str | None) -> Any:
        options: dict[str, Any] = {"num_cpus": 0, "max_concurrency": 1}
        if node_id is not None:  # pin it, so the scenario knows which node to remove
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id, soft=False)
        actor = ray.remote(ProgramCache).options(**options)
        return actor.remote(2 * PROGRAM_BYTES + KiB, str(self.directory), store=RayObjectStore())

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return ray.get(getattr(self.handle, method).remote(*args), timeout=60)
        except ray.exceptions.RayActorError:
            self.restarts += 1
            self.handle = self._start(None)
            return ray.get(getattr(self.handle, method).remote(*args), timeout=60)

    def ref(self, image: str) -> Any:
        blob = self._call("get", image)
        if blob is None:
            blob = self._call("put", image, self.origin[image])
            self.tiers.append("origin")
        else:
            self.tiers.append(blob.tier)
        return blob.handle


_SMALL = {"object_store_memory": 80 * h.MiB}


def _pid(actor: Any) -> int:
    return os.getpid()


def _offer(job: str) -> h.JobOffer:
    now = time.time()
    return h.JobOffer(job, "test", h.FIB_ID.hex(), "", "", 10**15, now, now + 3600)


def main() -> None:
    with h.cluster([{"num_cpus": 1}, {"num_cpus": 1}]) as (c, handles):
        _n1, n2 = handles

        def cache_node_lost() -> dict[str, Any]:
            programs = Programs(WORK / "programs", n2.node_id)
            images = list(programs.origin)
            for image in images:  # preload: the first is spilled to disk by the third
                programs.ref(image)
            before = ray.get(programs.handle.stats.remote(), timeout=60)
            driver, _ = h.start_driver(WORK / "cache.sqlite", ProvingConfig(task_timeout_s=120))
            image_of = {f"pc-{i}": images[i % 3] for i in range(6)}

            def request(job: str, fault: Fault | None = None) -> ProveRequest:
                n = 10 + int(job.split("-")[1])
                ref = programs.ref(image_of[job])
                return ProveRequest(job, ref, h.fib_input(job, n), image_id=h.FIB_ID, fault=fault)

            hang = Fault("hang", str(WORK / "pc-0.hang"), seconds=10)
            driver.admit(request("pc-0", hang))
            for job in list(image_of)[1:3]:
                driver.admit(request(job))
            driver.step(0.1)
            assert h.wait_for(lambda: any(t["job"] == "pc-0" for t in h.traces()), 120), "pc-0 never started"
            c.remove_node(n2)
            lost_at = len(programs.tiers)
            for job in list(image_of)[3:]:  # new jobs keep coming after the loss
                driver.admit(request(job))

            def redo_lost() -> None:
                for job in image_of:
                    if driver.status(job) == JobStatus.CLAIMED.value:  # its proving was lost: new program ref
                        driver.resubmit(request(job))

            done = driver.run_until(lambda: all(driver.status(j) == "completed" for j in image_of), 240, redo_lost)
            after = ray.get(programs.handle.stats.remote(), timeout=60)
            mine = [t for t in h.traces() if t["job"].startswith("pc-")]
            return {"all_done": done, "restarts": programs.restarts, "tiers_after_loss": programs.tiers[lost_at:],
                    "stats_before": before, "stats_after": after, "submissions": driver.submissions,
                    "outcomes": {j: [o.ok for o in outs] for j, outs in driver.outcomes.items()},
                    "statuses": {j: driver.status(j) for j in image_of}, "removed": n2.node_id, "traces": mine,
                    "images": [image[:16] for image in images]}  # fmt: skip

        def scheduler_killed() -> dict[str, Any]:
            driver, _ = h.start_driver(WORK / "sched.sqlite", ProvingConfig(task_timeout_s=120))
            pid_before = h.retry_unavailable(lambda: driver.scheduler.__ray_call__.remote(_pid))
            driver.admit(ProveRequest("sk-1", "fib", h.fib_input("sk-1", 13)))
            assert driver.run_until(lambda: driver.status("sk-1") == "completed", 120)
            slow = Fault("hang", str(WORK / "sk-0.slow"), seconds=6)  # sleeps, then proves
            driver.admit(ProveRequest("sk-0", "fib", h.fib_input("sk-0", 12), fault=slow))
            driver.step(0.1)
            for job in ("sk-2", "sk-3", "sk-4"):
                driver.call("offer", _offer(job))
            assert h.wait_for(lambda: any(t["job"] == "sk-0" for t in h.traces()), 60), "sk-0 never started"
            counts_before = driver.call("snapshot")["counts"]
            ray.kill(driver.scheduler, no_restart=False)  # the actor's process dies; Ray restarts it

            def pid_now() -> int | None:
                try:
                    return int(h.retry_unavailable(lambda: driver.scheduler.__ray_call__.remote(_pid)))
                except ray.exceptions.RayActorError:
                    return None  # a call that met the dying process

            # the kill is asynchronous: a call right after it may still reach the old process
            assert h.wait_for(lambda: pid_now() not in (None, pid_before), 60), "the scheduler was not restarted"
            pid_after = pid_now()
            counts_after = driver.call("snapshot")["counts"]
            recoverable = [r.id for r in driver.call("recoverable")]
            duplicate = driver.call("offer", _offer("sk-1"))
            queued = []
            while (record := driver.call("next_job")) is not None:  # the rebuilt queue hands out the rest
                queued.append(record.id)
                for status in (h.S.PREFLIGHT, h.S.CLAIMING, h.S.CLAIMED, h.S.PROVING):
                    driver.call("move", record.id, status)
                driver.pool.submit(ProveRequest(record.id, "fib", h.fib_input(record.id, 14)))
            jobs = [f"sk-{i}" for i in range(5)]
            done = driver.run_until(lambda: all(driver.status(j) == "completed" for j in jobs), 240)
            ends = [t["job"] for t in h.traces() if t["job"].startswith("sk-") and t["event"] == "end"]
            return {"all_done": done, "pid_before": pid_before, "pid_after": pid_after,
                    "counts_before": counts_before, "counts_after": counts_after, "recoverable": recoverable,
                    "duplicate": duplicate.admission.value, "queued_after_restart": sorted(queued),
                    "submissions": driver.submissions, "proofs": {j: ends.count(j) for j in jobs}}  # fmt: skip

        def node_added() -> dict[str, Any]:
            driver, _ = h.start_driver(WORK / "add.sqlite", ProvingConfig(task_timeout_s=120))
            jobs = [f"na-{i}" for i in range(10)]
            for i, job in enumerate(jobs):  # each takes ~2 s (sleeps, then proves), so a backlog builds
                slow = Fault("hang", str(WORK / f"{job}.slow"), seconds=2)
                driver.admit(ProveRequest(job, "fib", h.fib_input(job, 20 + i), fault=slow))
            in_flight: list[int] = []

            def follow() -> None:  # the pool itself re-reads the nodes (every 5 s) and sees the new one
                in_flight.append(driver.pool.in_flight())

            assert driver.run_until(lambda: driver.status(jobs[0]) == "completed", 120, follow)
            in_flight_before = max(in_flight)
            added = c.add_node(num_cpus=1, wait=False, **_SMALL)  # (the running task goes on meanwhile)
            in_flight.clear()
            done = driver.run_until(lambda: all(driver.status(j) == "completed" for j in jobs), 240, follow)
            ends = [t for t in h.traces() if t["job"].startswith("na-") and t["event"] == "end"]
            return {"all_done": done, "added": added.node_id,
                    "in_flight_before": in_flight_before, "in_flight_after": max(in_flight),
                    "submissions": driver.submissions,
                    "ran": [{"job": t["job"], "node": t["node"], "t": t["t"]} for t in ends]}  # fmt: skip

        h.phases(("cache_node_lost", cache_node_lost), ("scheduler_killed", scheduler_killed),
                 ("node_added", node_added))  # fmt: skip


if __name__ == "__main__":
    main()
