"""The one place the node's plain state classes become Ray actors.

Each `start_*` returns a handle to an actor (named when asked, so a restarted driver finds it) that
runs one method at a time (`max_concurrency=1`), so the classes need no locks. Actors take no CPU slot
(`num_cpus=0`): they hold state, the prove tasks do the work. A cache actor owns the object-store refs
it puts (it calls `ray.put` itself), so the bytes outlive the task that fetched them and die with the
cache, which is why the caches spill to disk.

`ActorCaller` is the other edge: every call the node's handles (`actors/handles.py`) make to these
actors, blocking, awaited or sent without waiting, with the retry across a restart, is made here.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.breakers import CircuitBreakers
from actors.object_store import RayObjectStore
from actors.program_cache import ProgramCache
from actors.proof_cache import ProofCache
from actors.scheduler import JobScheduler

__all__ = [
    "ActorCaller",
    "ActorGone",
    "kill_named", "start_circuit_breakers", "start_job_scheduler", "start_program_cache",
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


# ---- calling them: every Ray call of the node's handles (actors/handles.py) goes through here ----------

ActorGone = RayActorError  # the actor died or is restarting under a call
RESTART_S = 60.0  # how long a caller waits for a restarting actor before the error reaches it


class ActorCaller:
    """Every call to one actor: `sync(name, ...)` blocks, `call(name, ...)` is awaited; both retry a call that
    hit a dying or restarting actor until `restart_s` has passed, which is safe for reads and idempotent
    calls (`SchedulerHandle` reads the journal before retrying a change, through `once`)."""

    def __init__(self, actor: Any, *, timeout_s: float = 60.0, restart_s: float = RESTART_S) -> None:
        self.actor = actor
        self._timeout_s = timeout_s
        self._restart_s = restart_s
        self.restarts_seen = 0  # calls that met a dead or restarting actor (for tests and the dashboard)
        self.closed = False

    def sync(self, method: str, *args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + self._restart_s
        for attempt in range(10_000):
            try:
                return ray.get(getattr(self.actor, method).remote(*args, **kwargs), timeout=self._timeout_s)
            except (RayActorError, GetTimeoutError):
                if self.closed or time.monotonic() >= deadline:
                    raise
                self.restarts_seen += 1
                time.sleep(_backoff(attempt))
        raise RuntimeError("unreachable")  # pragma: no cover

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + self._restart_s
        for attempt in range(10_000):
            try:
                ref = getattr(self.actor, method).remote(*args, **kwargs)
                return await asyncio.wait_for(asyncio.wrap_future(ref.future()), self._timeout_s)
            except (RayActorError, TimeoutError):
                if self.closed or time.monotonic() >= deadline:
                    raise
                self.restarts_seen += 1
                await asyncio.sleep(_backoff(attempt))
        raise RuntimeError("unreachable")  # pragma: no cover

    def once(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One blocking attempt; `ActorGone` if the actor died under it (the caller decides about retrying)."""
        return ray.get(getattr(self.actor, method).remote(*args, **kwargs), timeout=self._timeout_s)

    async def read(self, handle: Any) -> bytes:
        """The bytes behind a cache handle: an ObjectRef (owned by a cache actor), or the bytes themselves."""
        if isinstance(handle, ray.ObjectRef):
            data: bytes = await handle
            return data
        return bytes(handle)

    def fire(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Send without waiting (calls from one process run in the order sent); lost if the actor dies."""
        getattr(self.actor, method).remote(*args, **kwargs)

    def kill(self) -> None:
        """Stop the actor for good (the node is closing): no restart, and callers stop retrying."""
        self.closed = True
        ray.kill(self.actor, no_restart=True)


def _backoff(attempt: int) -> float:
    return float(min(0.05 * 2**attempt, 1.0))


def __getattr__(name: str) -> Any:
    """`BreakersHandle` lived here before `actors/handles.py`; imported lazily (handles import this module)."""
    if name == "BreakersHandle":
        from actors.handles import BreakersHandle

        return BreakersHandle
    raise AttributeError(name)
