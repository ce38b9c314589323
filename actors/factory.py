"""The one place the node's plain state classes become Ray actors.

Each `start_*` returns a handle to an actor (named when asked, so a restarted driver finds it) that
runs one method at a time (`max_concurrency=1`), so the classes need no locks. Actors take no CPU slot
(`num_cpus=0`): they hold state, the prove tasks do the work. A cache actor owns the object-store refs
it puts (it calls `ray.put` itself), so the bytes outlive the task that fetched them and die with the
cache, which is why the caches spill to disk.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.breakers import CircuitBreakers
from actors.handles import BreakersHandle
from actors.object_store import RayObjectStore
from actors.program_cache import ProgramCache
from actors.proof_cache import ProofCache
from actors.scheduler import JobScheduler

__all__ = [
    "BreakersHandle", "kill_named", "start_circuit_breakers", "start_job_scheduler", "start_program_cache",
    "start_proof_cache",
]  # fmt: skip


def _actor(cls: type, name: str | None, max_restarts: int = 0, *, replace: bool = False) -> Any:
    # On the node that starts them (the head): their files (the journal, the disk tiers) are on its disk,
    # and a worker node may be scaled down or lost at any time. Taking no CPU, they would land anywhere.
    if replace and name is not None:
        kill_named(name)
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return ray.remote(cls).options(
        name=name, get_if_exists=name is not None and not replace, num_cpus=0, max_concurrency=1,
        max_restarts=max_restarts, scheduling_strategy=here,
    )  # fmt: skip


def kill_named(name: str, *, wait_s: float = 30.0) -> bool:
    """Kill the actor called `name` if one is alive (a node of this driver that stopped without closing),
    and wait (bounded) until its name is free; True if there was one. A node starts its own actors fresh:
    their state is rebuilt from the journal and the disk tiers, never inherited from a stale process."""
    try:
        old = ray.get_actor(name)
    except ValueError:
        return False
    ray.kill(old, no_restart=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            ray.get_actor(name)
        except ValueError:
            return True
        time.sleep(0.05)
    raise RuntimeError(f"actor {name} did not go away within {wait_s:g} s after ray.kill")


def start_job_scheduler(
    journal_path: str | Path,
    *,
    name: str | None = None,
    max_restarts: int = -1,
    replace: bool = False,
    **options: Any,
) -> Any:
    """The scheduler over the journal at `journal_path` (options: capacity, weights, degradation).

    Ray restarts it when it dies (its process or its node): the constructor rebuilds the queue from the
    journal, so a restart loses nothing that was journaled. A call in flight at the crash raises
    RayActorError and is the caller's to retry, after reading the job's state."""
    return _actor(JobScheduler, name, max_restarts, replace=replace).remote(str(journal_path), **options)


def start_circuit_breakers(
    *, name: str | None = None, max_restarts: int = 0, replace: bool = False, **options: Any
) -> Any:
    """The breaker registry (options: failure_threshold, window_s, open_s, half_open_probes, ...). Restarted,
    it starts with every breaker closed: the failures it forgets are counted again within one window."""
    return _actor(CircuitBreakers, name, max_restarts, replace=replace).remote(**options)


def start_program_cache(
    capacity: int, directory: str | Path | None = None, *, name: str | None = None, **options: Any
) -> Any:
    """The program cache: `capacity` bytes in the object store, spilled under `directory`."""
    return _actor(ProgramCache, name).remote(capacity, directory, store=RayObjectStore(), **options)


def start_proof_cache(
    directory: str | Path | None,
    capacity: int,
    *,
    name: str | None = None,
    max_restarts: int = 0,
    replace: bool = False,
    **options: Any,
) -> Any:
    """The proof cache: receipts written through to `directory`, `capacity` bytes in the object store.
    Restarted, its memory tier is empty and every receipt is reloaded from `directory` on first use."""
    return _actor(ProofCache, name, max_restarts, replace=replace).remote(
        directory, capacity, store=RayObjectStore(), **options
    )
