"""`zkray serve --orchestrator URL`: the node as a pull worker whose proofs run on Ray.

The orchestrator's `PullWorker` fetches, de-duplicates, backs off, signs and submits; its `prove_fn` is
`orchestrator_prove_fn(prover)`, a coroutine that sends each task to the node's `ProverService`: the same
`ProvingPool` (remote → GPU → CPU, hung-task kills, retries), circuit breakers and proof cache as the
chain node, so a task already proved (same program and input) is answered from the cache. There is no
chain in this mode: no devnet, no claims. The status port (`--status-port`) shows the worker's proofs,
prove times, caches, breakers and Ray nodes.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import time
from dataclasses import dataclass
from typing import Any

from actors.breakers import CircuitBreakers
from actors.object_store import LocalObjectStore
from actors.proof_cache import ProofCache
from zkray.node.frontdoors import FrontDoors, FrontDoorSettings, WithExtraWork, open_status_port, remote_prover
from zkray.node.prover import ProverService
from zkray.node.proving import ProveRequest, ProvingPool
from zkray.node.settings import NodeSettings
from zkray.observe import node_status_source
from zkray.orchestrator import NodeKey, PullWorker, WorkerConfig, WorkerStats
from zkray.orchestrator.programs import guest_for
from zkray.store import JobJournal

log = logging.getLogger("zkray.node.pull")
JOB_PREFIX = "orch:"


class OrchestratorProving:
    """The worker's `prove_fn` over the node's prover; counts what it proved for the status port."""

    def __init__(self, prover: ProverService) -> None:
        self.prover = prover
        self.proofs = 0
        self.cycles = 0
        self.in_flight: set[str] = set()
        self._ids = itertools.count(1)

    async def __call__(self, program_id: str, public_inputs: bytes) -> bytes:
        guest = guest_for(program_id)  # UnknownProgram for a program this node cannot prove
        cycles = int(getattr(guest.parse_input(public_inputs), "n", 1))
        job_id = f"{JOB_PREFIX}{next(self._ids)}:{program_id}"
        request = ProveRequest(job_id, guest.name, public_inputs, image_id=guest.image_id)
        self.in_flight.add(job_id)
        try:
            receipt = await self.prover.prove(
                request, image_id="0x" + guest.image_id.hex(),
                input_digest="0x" + hashlib.sha256(public_inputs).hexdigest(), cycles=cycles,
            )  # fmt: skip
        finally:
            self.in_flight.discard(job_id)
        self.proofs += 1
        self.cycles += cycles
        return receipt

    def extra(self) -> tuple[list[str], int, int]:
        return sorted(self.in_flight), self.proofs, self.cycles


# `PullWorker` awaits `prove_fn` only if it is a coroutine function; an instance with an async __call__
# is not one, so hand it the bound method.
def prove_fn(proving: OrchestratorProving) -> Any:
    async def prove(program_id: str, public_inputs: bytes) -> bytes:
        return await proving(program_id, public_inputs)

    return prove


@dataclass
class _ModeOnly:
    """The scheduler's `snapshot()` as the status source reads it; a pull worker has no chain queue."""

    def snapshot(self) -> dict[str, Any]:
        return {"mode": "normal", "mode_reason": ""}


@dataclass
class PullNode:
    """What `node_status_source` reads, for a node in pull mode."""

    journal: JobJournal
    scheduler: _ModeOnly
    breakers: CircuitBreakers
    prover: ProverService


def worker_config(settings: NodeSettings, front: FrontDoorSettings) -> WorkerConfig:
    """The pull worker's settings: `--orchestrator URL`, the key file, one prover per pool slot, overrides."""
    assert front.orchestrator_url is not None
    base: dict[str, Any] = {"orchestrator_url": front.orchestrator_url, "provers": settings.proving.max_concurrent}
    if front.node_key_file is not None:
        base["key_file"] = front.node_key_file
    return WorkerConfig.model_validate({**base, **front.worker})


class PullMode:
    """A node in pull mode: `await start()` (status port up), `await run(cancel)`, then `await close()`.
    Ray must be initialised. `run_pull_mode` does all three."""

    def __init__(
        self, settings: NodeSettings, front: FrontDoorSettings, *, runtime: Any = None, key: NodeKey | None = None
    ) -> None:
        from zkray.node.proving.runtime import RayRuntime

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings, self.front = settings, front
        self.breakers = CircuitBreakers(failure_threshold=settings.breaker_failures,
                                        window_s=settings.breaker_window_s, open_s=settings.breaker_open_s)  # fmt: skip
        self.pool = ProvingPool(runtime or RayRuntime(), settings.proving, breakers=self.breakers,
                                remote=remote_prover(front))  # fmt: skip
        cache = ProofCache(
            settings.data_dir / "proofs", settings.cache.proof_bytes, ttl_s=settings.cache.proof_ttl_s,
            disk_capacity=settings.cache.proof_disk_bytes, store=LocalObjectStore(),
        )  # fmt: skip
        self.prover = ProverService(self.pool, cache, settings.initial_speed_hz)
        self.proving = OrchestratorProving(self.prover)
        self.worker = PullWorker(worker_config(settings, front), key, prove_fn(self.proving))
        self.journal = JobJournal(settings.journal_path)
        self.doors = FrontDoors()
        self._stop_prover = asyncio.Event()
        self._prover_task: asyncio.Task[None] | None = None
        self._working = False

    @property
    def status_url(self) -> str | None:
        return self.doors.status_url

    async def start(self, *, announce: bool = False) -> None:
        """Start the prover loop and the status port."""
        self._prover_task = asyncio.create_task(self.prover.run(self._stop_prover), name="pull-prover")
        node = PullNode(self.journal, _ModeOnly(), self.breakers, self.prover)
        source = WithExtraWork(node_status_source(node, running=lambda: self._working), self.proving.extra)
        await open_status_port(self.doors, self.front, source, orchestrator=None)
        if announce:
            print(f"pull worker {self.worker.node_id} (public key {self.worker.key.public_hex}) proving on Ray "
                  f"for {self.front.orchestrator_url}", flush=True)  # fmt: skip
            for line in self.doors.describe():
                print(line, flush=True)

    async def run(self, cancel: asyncio.Event) -> WorkerStats:
        """Work until `cancel` or until the worker gives up (repeated 404s); returns its statistics."""
        self._working = True
        started = time.monotonic()
        try:
            stats = await self.worker.run(cancel)
        finally:
            self._working = False
        log.info("pull mode ended after %.1f s: %s", time.monotonic() - started, stats)
        return stats

    async def close(self) -> None:
        await self.doors.close()
        self._stop_prover.set()
        self.prover.shutdown()
        if self._prover_task is not None:
            await asyncio.gather(self._prover_task, return_exceptions=True)
        self.journal.close()


async def run_pull_mode(
    settings: NodeSettings,
    front: FrontDoorSettings,
    cancel: asyncio.Event,
    *,
    runtime: Any = None,
    key: NodeKey | None = None,
    announce: bool = False,
) -> WorkerStats:
    """Pull tasks from `front.orchestrator_url` and prove them on Ray until `cancel` or the worker gives up
    (repeated 404s). Ray must be initialised. Returns the worker's statistics."""
    mode = PullMode(settings, front, runtime=runtime, key=key)
    try:
        await mode.start(announce=announce)
        return await mode.run(cancel)
    finally:
        await mode.close()


async def serve_pull_mode(settings: NodeSettings, cancel: asyncio.Event, timeout_s: float | None = None) -> int:
    """`zkray serve --orchestrator URL` after Ray is up: run until `cancel`, the timeout, or the worker gives
    up; exit status 0, or 1 when some proof failed or a submission was refused."""
    timer = asyncio.get_running_loop().call_later(timeout_s, cancel.set) if timeout_s is not None else None
    try:
        stats = await run_pull_mode(settings, settings.front, cancel, announce=True)
    finally:
        if timer is not None:
            timer.cancel()
    print(f"pull worker stopped: {stats.proofs_submitted} proofs accepted, {stats.proofs_failed} failed, "
          f"{stats.submissions_rejected} refused, {stats.rate_limited} rate-limited polls", flush=True)  # fmt: skip
    return 1 if stats.proofs_failed or stats.submissions_rejected else 0
