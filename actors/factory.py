"""The one place the node's plain state classes become Ray actors.

Each `start_*` returns a handle to an actor (named when asked, so a restarted driver finds it) that
runs one method at a time (`max_concurrency=1`), so the classes need no locks. Actors take no CPU slot
(`num_cpus=0`): they hold state, the prove tasks do the work. A cache actor owns the object-store refs
it puts (it calls `ray.put` itself), so the bytes outlive the task that fetched them and die with the
cache, which is why the caches spill to disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.breakers import CircuitBreakers
from actors.object_store import RayObjectStore
from actors.program_cache import ProgramCache
from actors.proof_cache import ProofCache
from actors.scheduler import JobScheduler


def _actor(cls: type, name: str | None, max_restarts: int = 0) -> Any:
    # On the node that starts them (the head): their files (the journal, the disk tiers) are on its disk,
    # and a worker node may be scaled down or lost at any time. Taking no CPU, they would land anywhere.
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return ray.remote(cls).options(
        name=name, get_if_exists=name is not None, num_cpus=0, max_concurrency=1, max_restarts=max_restarts,
        scheduling_strategy=here,
    )  # fmt: skip


def start_job_scheduler(
    journal_path: str | Path, *, name: str | None = None, max_restarts: int = -1, **options: Any
) -> Any:
    """The scheduler over the journal at `journal_path` (options: capacity, weights, degradation).

    Ray restarts it when it dies (its process or its node): the constructor rebuilds the queue from the
    journal, so a restart loses nothing that was journaled. A call in flight at the crash raises
    RayActorError and is the caller's to retry, after reading the job's state."""
    return _actor(JobScheduler, name, max_restarts).remote(str(journal_path), **options)


def start_circuit_breakers(*, name: str | None = None, **options: Any) -> Any:
    """The breaker registry (options: failure_threshold, window_s, open_s, half_open_probes, ...)."""
    return _actor(CircuitBreakers, name).remote(**options)


def start_program_cache(
    capacity: int, directory: str | Path | None = None, *, name: str | None = None, **options: Any
) -> Any:
    """The program cache: `capacity` bytes in the object store, spilled under `directory`."""
    return _actor(ProgramCache, name).remote(capacity, directory, store=RayObjectStore(), **options)


def start_proof_cache(directory: str | Path | None, capacity: int, *, name: str | None = None, **options: Any) -> Any:
    """The proof cache: receipts written through to `directory`, `capacity` bytes in the object store."""
    return _actor(ProofCache, name).remote(directory, capacity, store=RayObjectStore(), **options)


class BreakersHandle:
    """The breaker actor seen through the plain `CircuitBreakers` methods the proving pool calls
    (`allow`, `record`, `record_outcome`), each a blocking round trip; the actor's clock decides."""

    def __init__(self, handle: Any, timeout_s: float = 30.0) -> None:
        self._handle = handle
        self._timeout_s = timeout_s

    def allow(self, service: str, now: float | None = None) -> bool:
        allowed: bool = ray.get(self._handle.allow.remote(service, now), timeout=self._timeout_s)
        return allowed

    def record(self, service: str, ok: bool, now: float | None = None) -> Any:
        return ray.get(self._handle.record.remote(service, ok, now), timeout=self._timeout_s)

    def record_outcome(self, kind: str, ok: bool, now: float | None = None) -> None:
        ray.get(self._handle.record_outcome.remote(kind, ok, now), timeout=self._timeout_s)
