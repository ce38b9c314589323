"""The proving service: jobs await a proof; one loop drives the Ray proving pool for all of them.

`ProvingPool.poll` blocks (it waits on `ray.wait`), so the loop runs it in a worker thread and hands each
finished outcome back to the job that awaits it. The pool owns attempts, hung-task kills, retries and the
remote → GPU → CPU fallback; this service only connects it to the node's asyncio world, applies the
degradation flags, and keeps the proof cache in front of it (same program on the same input: no
second proof).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from actors.proof_cache import ProofCache
from zkray.node.proving import ProveFailed, ProveOutcome, ProveRequest, ProvingPool
from zkray.policy.compression import Purpose, compress, decompress
from zkray.policy.degradation import FeatureFlags
from zkray.policy.profitability import ProvingSpeed


class ProverService:
    """`await prove(request)` → encoded receipt; `run(cancel)` polls the pool."""

    def __init__(self, pool: ProvingPool, cache: ProofCache | None, initial_speed_hz: float) -> None:
        self.pool = pool
        self.cache = cache
        self.speed = ProvingSpeed(initial_speed_hz)
        self.proofs = 0
        self.cache_hits = 0
        self.prove_seconds: list[float] = []
        self._waiting: dict[str, tuple[asyncio.Future[bytes], float, int]] = {}
        self._proving: dict[tuple[str, str], asyncio.Future[bytes]] = {}
        self._wake = asyncio.Event()

    async def prove(self, request: ProveRequest, *, image_id: str, input_digest: str, cycles: int) -> bytes:
        """The job's verified receipt, from the proof cache or a prove task; ProveFailed when it cannot be had."""
        key = (image_id.lower(), input_digest.lower())
        if self.cache is not None:
            hit = self.cache.get(image_id, input_digest)
            if hit is not None:
                self.cache_hits += 1
                return decompress(hit.handle)  # stored compressed (zstd): receipts sit on disk 24 h
        same = self._proving.get(key)
        if same is not None:  # the same program on the same input is being proved for another job: share it
            self.cache_hits += 1
            return await asyncio.shield(same)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "never retrieved" warning
        self._waiting[request.job_id] = (future, time.monotonic(), cycles)
        self._proving[key] = future
        self.pool.submit(request)
        self._wake.set()
        try:
            receipt = await future
        finally:
            self._waiting.pop(request.job_id, None)
            self._proving.pop(key, None)
        if self.cache is not None:
            self.cache.put(image_id, input_digest, compress(receipt, Purpose.SIZE))
        return receipt

    def cancel(self, job_id: str) -> None:
        """Stop proving a job (cancelled on-chain, taken by another prover)."""
        self.pool.cancel(job_id)
        entry = self._waiting.pop(job_id, None)
        if entry is not None and not entry[0].done():
            entry[0].cancel()

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
        entry = self._waiting.get(outcome.job_id)
        if entry is None or entry[0].done():
            return  # cancelled meanwhile
        future, started, cycles = entry
        if outcome.receipt is not None:
            elapsed = time.monotonic() - started
            self.proofs += 1
            self.prove_seconds.append(elapsed)
            self.speed = self.speed.observe(cycles, elapsed)
            future.set_result(outcome.receipt)
        else:
            error: Any = outcome.error or ProveFailed(outcome.job_id, outcome.attempts, RuntimeError("no receipt"))
            future.set_exception(error)

    def shutdown(self) -> None:
        """Kill whatever is still running (the node is stopping without draining)."""
        for job_id in list(self._waiting):
            self.cancel(job_id)
