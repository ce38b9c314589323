"""The proving service: jobs await a proof; one loop drives the Ray proving pool for all of them.

`ProvingPool.poll` blocks (it waits on `ray.wait`), so the loop runs it in a worker thread and hands each
finished outcome back to the jobs that await it. The pool owns attempts, hung-task kills, retries and the
remote → GPU → CPU fallback; this service only connects it to the node's asyncio world, applies the
degradation flags, and keeps the proof cache in front of it (same program on the same input: no
second proof).

One statement, one proof: jobs asking for the same (image id, input digest) while it is being proved
share one pool job. Each job waits on its own future, so stopping one (an API session stopped, a chain
job cancelled) ends only that job's wait; the pool job is cancelled, and its Ray task killed, only when
its last waiter has left.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from dataclasses import dataclass, field
from typing import Any

from zkray.node.capacity import ClusterCapacity
from zkray.node.proving import ProveFailed, ProveOutcome, ProveRequest, ProvingPool
from zkray.policy.compression import Purpose, compress, decompress
from zkray.policy.degradation import FeatureFlags
from zkray.policy.profitability import ProvingSpeed


@dataclass
class _InFlight:
    """One statement being proved by one pool job, and the jobs waiting for it (each on its own future)."""

    key: tuple[str, str]
    pool_job: str  # the job id the pool knows it by: the job that asked first (it may have left since)
    started: float
    cycles: int
    waiters: list[tuple[str, asyncio.Future[bytes]]] = field(default_factory=list)
    receipt: bytes | None = None  # proved: answered from here until it is in the proof cache
    cached: bool = False  # a waiter took the duty of putting the receipt into the proof cache


class ProverService:
    """`await prove(request)` → encoded receipt; `run(cancel)` polls the pool.

    `cache` is the node's proof cache: a plain `actors.proof_cache.ProofCache` (pull mode, tests) or the
    proof-cache actor's handle (`actors.handles.ProofCacheHandle`, whose `get`/`put` are coroutines)."""

    def __init__(
        self, pool: ProvingPool, cache: Any | None, initial_speed_hz: float, capacity: ClusterCapacity | None = None
    ) -> None:
        self.pool = pool
        self.cache = cache
        self.capacity = capacity  # calibrated speeds of the live nodes (zkray.node.capacity); None: self.speed
        self.speed = ProvingSpeed(capacity.job_hz() if capacity is not None else initial_speed_hz)
        self.proofs = 0
        self.cache_hits = 0
        self.prove_seconds: list[float] = []
        self._proving: dict[tuple[str, str], _InFlight] = {}
        self._by_pool_job: dict[str, _InFlight] = {}
        self._wake = asyncio.Event()

    def speed_for(self, cycles: int) -> ProvingSpeed:
        """The speed a job of `cycles` is priced at for its deadline: with a calibration, per size on the live
        nodes and behind the proofs in flight; without one, the measured average (`speed`)."""
        if self.capacity is None:
            return self.speed
        return self.capacity.speed(cycles, backlog_cycles=sum(f.cycles for f in self._proving.values()))

    async def prove(self, request: ProveRequest, *, image_id: str, input_digest: str, cycles: int) -> bytes:
        """The job's verified receipt, from the proof cache or a prove task; ProveFailed when it cannot be had."""
        key = (image_id.lower(), input_digest.lower())
        if self.cache is not None:
            hit = await _maybe_await(self.cache.get(image_id, input_digest))
            if hit is not None:
                self.cache_hits += 1
                return decompress(hit.handle)  # stored compressed (zstd): receipts sit on disk 24 h
        entry = self._proving.get(key)
        if entry is not None and entry.receipt is not None:  # proved a moment ago, on its way into the cache
            self.cache_hits += 1
            return entry.receipt
        if entry is not None:  # the same program on the same input is being proved for another job: share it
            self.cache_hits += 1
        else:
            entry = _InFlight(key, request.job_id, time.monotonic(), cycles)
            self._proving[key] = entry
            self._by_pool_job[request.job_id] = entry
            self.pool.submit(request)
            self._wake.set()
        mine: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        mine.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "never retrieved" warning
        entry.waiters.append((request.job_id, mine))
        try:
            receipt = await mine
            duty, entry.cached = not entry.cached, True
        finally:
            self._leave(entry, mine)
        if duty:  # the entry answers newcomers until the cache does (no window in which both miss)
            try:
                if self.cache is not None:
                    await _maybe_await(self.cache.put(image_id, input_digest, compress(receipt, Purpose.SIZE)))
            finally:
                self._forget(entry)
        return receipt

    def _leave(self, entry: _InFlight, mine: asyncio.Future[bytes]) -> None:
        """A waiter is done (answered, failed, cancelled); the last one out of an unfinished proof stops it."""
        entry.waiters = [(j, f) for j, f in entry.waiters if f is not mine]
        if entry.waiters or self._proving.get(entry.key) is not entry:
            return
        if entry.receipt is not None:
            if not entry.cached:  # proved, but every waiter was cancelled before reading it
                self._forget(entry)
            return
        self._forget(entry)
        self.pool.cancel(entry.pool_job)  # nobody waits for this proof any more: kill its task

    def _forget(self, entry: _InFlight) -> None:
        if self._proving.get(entry.key) is entry:
            del self._proving[entry.key]
        if self._by_pool_job.get(entry.pool_job) is entry:
            del self._by_pool_job[entry.pool_job]

    def cancel(self, job_id: str) -> None:
        """Stop `job_id` waiting for its proof (cancelled on-chain, a stopped API session). The proof itself
        goes on while another job still waits for the same statement."""
        waiting = False
        for entry in list(self._proving.values()):
            for waiter, future in list(entry.waiters):
                if waiter == job_id:
                    waiting = True
                    if not future.done():
                        future.cancel()  # its `prove` leaves through `_leave`, which decides about the task
        if not waiting and job_id not in self._by_pool_job:
            self.pool.cancel(job_id)  # submitted to the pool some other way: nothing shares it

    def waiters(self, job_id: str) -> list[str]:
        """Jobs waiting on the proof that `job_id` waits on (empty when it waits on none): for the dashboard."""
        for entry in self._proving.values():
            if any(w == job_id for w, _ in entry.waiters):
                return [w for w, _ in entry.waiters]
        return []

    def set_flags(self, flags: FeatureFlags) -> None:
        self.pool.set_flags(flags)

    async def run(self, cancel: asyncio.Event) -> None:
        """Poll the pool while anything is pending; otherwise sleep until a job arrives or `cancel`."""
        while not cancel.is_set():
            if not self.pool.pending():
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.5)
                continue
            outcomes = await asyncio.to_thread(self.pool.poll, 0.2)
            for outcome in outcomes:
                self._deliver(outcome)

    def _deliver(self, outcome: ProveOutcome) -> None:
        entry = self._by_pool_job.pop(outcome.job_id, None)
        if entry is None:
            return  # every waiter left meanwhile
        if outcome.receipt is None:
            self._forget(entry)
        else:
            entry.receipt = outcome.receipt
            elapsed = time.monotonic() - entry.started
            self.proofs += 1
            self.prove_seconds.append(elapsed)
            self.speed = self.speed.observe(entry.cycles, elapsed)
        error: Any = outcome.error or ProveFailed(outcome.job_id, outcome.attempts, RuntimeError("no receipt"))
        for _, future in entry.waiters:
            if future.done():
                continue
            if outcome.receipt is not None:
                future.set_result(outcome.receipt)
            else:
                future.set_exception(error)

    def shutdown(self) -> None:
        """Kill whatever is still running (the node is stopping without draining)."""
        for entry in list(self._proving.values()):
            for _, future in entry.waiters:
                if not future.done():
                    future.cancel()
            self._forget(entry)
            self.pool.cancel(entry.pool_job)


async def _maybe_await(value: Any) -> Any:
    """The plain cache answers at once; the cache actor's handle answers with a coroutine."""
    return await value if inspect.isawaitable(value) else value
