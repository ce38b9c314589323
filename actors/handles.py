"""The node's view of its actors: thin handles with the methods of the plain classes they host.

`SchedulerHandle`, `BreakersHandle` and `ProofCacheHandle` let the node (stages, chain access, the
proving pool, the fetcher, the status port) call the scheduler, breaker and proof-cache actors exactly as
it called the plain `JobScheduler`, `CircuitBreakers` and `ProofCache`: a method of the same name, each a
round trip to the actor. Blocking methods wait with `ray.get`; code on the event loop uses the awaitable
`call(name, ...)` and the journal changes `amove`/`astore_proof`/`awork_lost` (scheduler) or the
coroutines `get`/`put` (proof cache) instead, so the event loop is not held while an actor answers, nor
while a restarted scheduler comes back (seconds).

A restarted actor (Ray restarts the scheduler after its process dies; its constructor rebuilds the queue
from the journal) fails the calls in flight with `RayActorError`. The scheduler handle retries them once
the actor is back, bounded by `restart_s`, and makes each retried change idempotent by reading the
journal first: a move that landed before the crash is answered with the record, not made twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from actors.blob_cache import CachedBlob
from actors.factory import ActorCaller, ActorGone
from zkray.policy.jobs import JobStatus, retry_status
from zkray.store import JobRecord

T = TypeVar("T")


class SchedulerHandle:
    """The job-scheduler actor with `JobScheduler`'s methods (blocking), plus `call` for the event loop.

    Changes retried after a restart are made idempotent here: `move` and `store_proof` answer with the
    record when the journal already shows the new status, `work_lost` carries the status it expects to
    step back from, and `offer` is idempotent in the scheduler itself (a known job is a DUPLICATE)."""

    def __init__(self, actor: Any, **options: Any) -> None:
        self.caller = ActorCaller(actor, **options)

    @property
    def actor(self) -> Any:
        return self.caller.actor

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Any scheduler method, awaited (the dispatcher, admission and the health loop use this)."""
        return await self.caller.call(method, *args, **kwargs)

    def _change(self, job_id: str, landed: Callable[[JobRecord], bool], method: str, *args: Any, **kw: Any) -> Any:
        """A journal change; if the actor died under it, the journal says whether it landed before retrying."""
        try:
            return self.caller.once(method, *args, **kw)
        except ActorGone:
            if self.caller.closed:
                raise
            self.caller.restarts_seen += 1
            record = self.caller.sync("job", job_id)  # waits (bounded) for the restarted actor
            if record is not None and landed(record):
                return record
            return self.caller.sync(method, *args, **kw)

    async def _achange(
        self, job_id: str, landed: Callable[[JobRecord], bool], method: str, *args: Any, **kw: Any
    ) -> Any:
        """`_change`, awaited: the first attempt runs in a worker thread (one round trip, `ActorGone` if the
        actor dies under it), the journal read and the retry are awaited on the actor (they wait for it to
        come back without holding the loop)."""
        try:
            return await asyncio.to_thread(self.caller.once, method, *args, **kw)
        except ActorGone:
            if self.caller.closed:
                raise
            self.caller.restarts_seen += 1
            record = await self.caller.call("job", job_id)
            if record is not None and landed(record):
                return record
            return await self.caller.call(method, *args, **kw)

    async def amove(self, job_id: str, new: JobStatus, **fields: Any) -> JobRecord:
        """`move`, awaited (the stages)."""
        record: JobRecord = await self._achange(job_id, lambda r: r.status is new, "move", job_id, new, **fields)
        return record

    async def astore_proof(self, job_id: str, receipt: bytes, now: float | None = None) -> JobRecord:
        """`store_proof`, awaited."""
        proved = JobStatus.PROVED
        record: JobRecord = await self._achange(
            job_id, lambda r: r.status is proved, "store_proof", job_id, receipt, now
        )
        return record

    async def awork_lost(self, job_id: str, error: str, now: float | None = None) -> JobRecord:
        """`work_lost`, awaited."""
        before: JobRecord = await self.caller.call("job", job_id)
        if before is None:
            raise KeyError(job_id)
        back = retry_status(before.status)

        def landed(r: JobRecord) -> bool:
            return r.status is back and r.attempts == before.attempts + 1

        record: JobRecord = await self._achange(
            job_id, landed, "work_lost", job_id, error, now, expected=before.status
        )
        return record

    def move(self, job_id: str, new: JobStatus, **fields: Any) -> JobRecord:
        record: JobRecord = self._change(job_id, lambda r: r.status is new, "move", job_id, new, **fields)
        return record

    def store_proof(self, job_id: str, receipt: bytes, now: float | None = None) -> JobRecord:
        proved = JobStatus.PROVED
        record: JobRecord = self._change(job_id, lambda r: r.status is proved, "store_proof", job_id, receipt, now)
        return record

    def work_lost(self, job_id: str, error: str, now: float | None = None) -> JobRecord:
        before: JobRecord = self.caller.sync("job", job_id)
        if before is None:
            raise KeyError(job_id)
        back = retry_status(before.status)

        def landed(r: JobRecord) -> bool:
            return r.status is back and r.attempts == before.attempts + 1

        record: JobRecord = self._change(job_id, landed, "work_lost", job_id, error, now, expected=before.status)
        return record

    def __getattr__(self, method: str) -> Callable[..., Any]:
        """Every other `JobScheduler` method (offer, next_job, job, jobs, recoverable, proof, flags, snapshot,
        update_health, set_cached): a blocking call, retried across a restart."""
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *args, **kwargs: self.caller.sync(method, *args, **kwargs)

    def close(self) -> None:
        """Kill the actor (its journal connection closes with its process)."""
        self.caller.kill()


class _ServiceBreaker:
    """One named breaker of the registry actor, as the fetcher's `Breaker` protocol wants it."""

    def __init__(self, handle: BreakersHandle, name: str) -> None:
        self._handle, self._name = handle, name

    def allow(self, now: float) -> bool:
        return self._handle.allow(self._name, now)

    def record_success(self, now: float) -> None:
        self._handle.record(self._name, True, now)

    def record_failure(self, now: float) -> None:
        self._handle.record(self._name, False, now)

    @property
    def state(self) -> str:
        return str(self._handle.caller.sync("last_state", self._name))


class BreakersHandle:
    """The breaker-registry actor seen through the `CircuitBreakers` methods: `allow` and the reads block
    (their answer is needed now); `record` and `record_outcome` are sent without waiting, in order, so an
    engine call costs the node one round trip, not two. `registry[name]` is the fetcher's view."""

    def __init__(self, actor: Any, *, timeout_s: float = 30.0, wait_records: bool = False) -> None:
        self.caller = ActorCaller(actor, timeout_s=timeout_s, restart_s=timeout_s)
        self._wait_records = wait_records

    def allow(self, service: str, now: float | None = None) -> bool:
        allowed: bool = self.caller.sync("allow", service, now)
        return allowed

    def record(self, service: str, ok: bool, now: float | None = None) -> Any:
        if self._wait_records:
            return self.caller.sync("record", service, ok, now)
        self.caller.fire("record", service, ok, now)
        return None

    def record_outcome(self, kind: str, ok: bool, now: float | None = None) -> None:
        if self._wait_records:
            self.caller.sync("record_outcome", kind, ok, now)
        else:
            self.caller.fire("record_outcome", kind, ok, now)

    def register(self, *services: str) -> None:
        self.caller.sync("register", *services)

    def state(self, service: str, now: float | None = None) -> Any:
        return self.caller.sync("state", service, now)

    def signals(self, now: float | None = None) -> Any:
        return self.caller.sync("signals", now)

    async def asignals(self, now: float | None = None) -> Any:
        """`signals`, awaited (the health loop)."""
        return await self.caller.call("signals", now)

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        snap: dict[str, Any] = self.caller.sync("snapshot", now)
        return snap

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.caller.sync("restore", snapshot)

    def breaker(self, name: str) -> _ServiceBreaker:
        return _ServiceBreaker(self, name)

    def __getitem__(self, name: str) -> _ServiceBreaker:
        return self.breaker(name)

    def close(self) -> None:
        self.caller.kill()


class ProofCacheHandle:
    """The proof-cache actor: `get`/`put` are coroutines (the prover awaits them); the receipt's bytes are
    in the object store, owned by the actor, and fetched by ref; `stats` blocks (the status port)."""

    def __init__(self, actor: Any, *, timeout_s: float = 60.0) -> None:
        self.caller = ActorCaller(actor, timeout_s=timeout_s, restart_s=timeout_s)

    async def get(self, image_id: str, input_digest: str) -> CachedBlob | None:
        """The cached receipt with its bytes (read from the object store by ref), or None."""
        blob: CachedBlob | None = await self.caller.call("get", image_id, input_digest)
        if blob is None:
            return None
        return replace(blob, handle=await self.caller.read(blob.handle))

    async def put(self, image_id: str, input_digest: str, receipt: bytes) -> None:
        """Store a receipt; the actor `ray.put`s it (so it owns the bytes) and writes it through to disk."""
        await self.caller.call("put", image_id, input_digest, receipt)

    async def contains(self, image_id: str, input_digest: str) -> bool:
        found: bool = await self.caller.call("contains", image_id, input_digest)
        return found

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.caller.sync("stats")
        return stats

    def close(self) -> None:
        self.caller.kill()
