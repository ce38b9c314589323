"""The node: sources → admission → one task per job (stages.py) → paid, with recovery and a reaper.

Services, each `run(cancel)` under the supervisor: the event source, the pending sweep, the dispatcher
(hands the scheduler's best job to a task while fewer than `max_jobs_in_flight` run), the prover loop,
the health loop (breakers → degradation mode → scheduler admission and pool flags), the RPC heartbeat
and the reaper. `run` first resumes what the journal says was in flight; on cancel it stops taking
jobs and drains the running ones (bounded), leaving anything unfinished in the journal for next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from actors.breakers import CircuitBreakers
from actors.handles import BreakersHandle, SchedulerHandle
from actors.scheduler import Admission, JobOffer, JobScheduler
from zkray.chain.client import RequestStatus
from zkray.chain.events import EngineEvent
from zkray.node.chain_access import ChainAccess
from zkray.node.prover import ProverService
from zkray.node.settings import NodeSettings
from zkray.node.sources import EventSource, PendingSweep
from zkray.node.stages import JobRunner, NodeKilled, scheduler_change
from zkray.node.supervisor import ServiceStats, supervise
from zkray.policy.degradation import Mode
from zkray.policy.errors import InvalidTransition
from zkray.policy.jobs import HOLDS_CLAIM, HOLDS_PROOF, TERMINAL, JobStatus
from zkray.policy.profitability import check_profit, expected_payout, proving_eta
from zkray.store import JobJournal, JobRecord, StatusConflict

S = JobStatus
log = logging.getLogger("zkray.node")
API = "api"  # the source of Bonsai API sessions' jobs (zkray.node.api_jobs)


class ApiJobs(Protocol):
    """What the node needs of its API service to run a session's job (`zkray.node.api_jobs`)."""

    async def run_job(self, job: JobRecord) -> None: ...


ADMISSION_CLOSED = "admission closed"
ASSUMED_CYCLES = 1_000  # a typical job, for the payout's decay estimate at admission


# Reasons a job was SKIPPED that may pass: offered again when the chain still lists it as pending.
PASSING = (ADMISSION_CLOSED, "unprofitable", "queue full", "evicted", "ExecutionClaimed by another", "claimed by")


def job_id_of(request_id: int) -> str:
    return f"engine:{request_id}"


def may_return(job: JobRecord, *, from_sweep: bool) -> bool:
    """A SKIPPED job is offered again after admission reopens (any source), or, when the pending sweep
    sees it still pending, if it was skipped for a reason that passes (gas, a full queue, a lapsed claim
    of another prover); never when it cannot be proven as posted."""
    if job.status is not S.SKIPPED:
        return False
    why = job.error or ""
    return why.startswith(ADMISSION_CLOSED) or (from_sweep and why.startswith(PASSING))


class Node:
    """Wires the parts; `await node.run(cancel)` until `cancel` is set (then drains)."""

    def __init__(
        self,
        settings: NodeSettings,
        *,
        scheduler: JobScheduler | SchedulerHandle,
        journal: JobJournal,
        breakers: CircuitBreakers | BreakersHandle,
        chain: ChainAccess,
        prover: ProverService,
        runner: JobRunner,
    ) -> None:
        self.settings = settings
        self.scheduler = scheduler
        self.journal = journal
        self.breakers = breakers
        self.chain = chain
        self.prover = prover
        self.runner = runner
        self.events: EventSource | None = None  # the sources feed the node, so they are attached after it
        self.sweep: PendingSweep | None = None
        self.tally = runner.tally
        self.estimates = runner.estimates  # cycles preflight measured before: new offers are scored with them
        self.services: dict[str, ServiceStats] = {}
        self.started = time.monotonic()
        self.offers: dict[str, int] = {}
        self._active: dict[str, asyncio.Task[None]] = {}
        self._offering: set[int] = set()
        self._wake = asyncio.Event()
        self._killed: NodeKilled | None = None
        self._stop_now = asyncio.Event()
        self.api: ApiJobs | None = None

    # ---- running ----

    def attach(self, events: EventSource, sweep: PendingSweep) -> None:
        """The job sources (they call back `on_event` and `offer_request`)."""
        self.events, self.sweep = events, sweep

    def attach_api(self, api: ApiJobs) -> None:
        """The Bonsai API's sessions (`zkray.node.api_jobs`): jobs of source "api" on the same queue, run by
        `api.run_job` instead of the chain stages. Attach before `run`, so recovery finds them."""
        self.api = api

    def wake(self) -> None:
        """A job was queued from outside the node's sources: the dispatcher looks at once."""
        self._wake.set()

    async def run(self, cancel: asyncio.Event, *, drain_s: float = 120.0) -> None:
        """Resume, run the services until `cancel`, then drain in-flight jobs for at most `drain_s`."""
        if self.events is None or self.sweep is None:
            raise RuntimeError("attach the event source and the pending sweep before running the node")
        await self.recover()
        stop_sources = asyncio.Event()
        services: dict[str, Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = {
            "events": self.events.run, "sweep": self.sweep.run, "dispatch": self._dispatch,
            "health": self._health, "heartbeat": self._heartbeat, "reaper": self._reaper,
        }  # fmt: skip
        tasks = [
            asyncio.create_task(supervise(name, service, stop_sources, self._stats(name)), name=name)
            for name, service in services.items()
        ]
        prover_cancel = asyncio.Event()
        prover_task = asyncio.create_task(supervise("prover", self.prover.run, prover_cancel, self._stats("prover")))
        waiters = [asyncio.ensure_future(cancel.wait()), asyncio.ensure_future(self._stop_now.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
        stop_sources.set()  # no new jobs from here on
        if self._killed is None and self._active:
            await asyncio.wait(list(self._active.values()), timeout=drain_s)
        for task in list(self._active.values()):
            task.cancel()
        await asyncio.gather(*self._active.values(), return_exceptions=True)
        prover_cancel.set()
        self.prover.shutdown()
        await asyncio.gather(*tasks, prover_task, return_exceptions=True)
        if self._killed is not None:
            raise self._killed

    def _stats(self, name: str) -> ServiceStats:
        return self.services.setdefault(name, ServiceStats())

    def spawn(self, job_id: str, coro: Coroutine[Any, Any, None]) -> bool:
        """Run one job's stages in its own task; False (and nothing started) if it already has one."""
        if job_id in self._active:
            coro.close()
            return False
        task = asyncio.create_task(self._guard(job_id, coro), name=f"job:{job_id}")
        self._active[job_id] = task
        task.add_done_callback(lambda _: self._active.pop(job_id, None))
        return True

    async def _guard(self, job_id: str, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except (StatusConflict, InvalidTransition) as exc:
            log.info("job %s moved under its task (%s); the journal decides what is next", job_id, exc)
        except NodeKilled as exc:
            self._killed = exc
            self._stop_now.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one job's bug must not stop the others
            self.tally.errors.append(f"{job_id}: {type(exc).__name__}: {exc}")
            log.exception("job %s failed unexpectedly", job_id)
        finally:
            self._wake.set()

    @property
    def active(self) -> int:
        return len(self._active)

    # ---- recovery and the reaper ----

    async def recover(self) -> int:
        """Resume what the journal says was in flight: claimed jobs are proved, proved jobs submitted."""
        started = 0
        for job in self.journal.recoverable():
            started += await self._resume(job)
        return started

    async def _resume(self, job: JobRecord) -> int:
        if job.id in self._active or job.status in (S.QUEUED, S.DISCOVERED):
            return 0  # the scheduler rebuilt its queue from the journal
        if job.status in (S.FETCHING, S.PREFLIGHT):
            await scheduler_change(self.scheduler, "work_lost", job.id, "interrupted before the claim; queued again")
            return 0
        if job.source == API:
            return int(self.spawn(job.id, self._api_job(job)))
        if job.status is S.CLAIMING:
            return int(self.spawn(job.id, self.runner.from_claiming(job)))
        if job.status in HOLDS_PROOF:
            return int(self.spawn(job.id, self.runner.from_proved(job)))
        if job.status in HOLDS_CLAIM:
            return int(self.spawn(job.id, self.runner.from_claimed(job)))
        return 0

    async def _api_job(self, job: JobRecord) -> None:
        """An API session's job: run by the API service, or ended with the reason when none is attached."""
        if self.api is not None:
            await self.api.run_job(job)
            return
        why = "the node runs without its API now (no --api-port): the session cannot finish; create it again"
        current = self.journal.get(job.id).status
        if current not in TERMINAL:
            await scheduler_change(self.scheduler, "move", job.id, S.FAILED, expected=current, error=why)

    async def _reaper(self, cancel: asyncio.Event) -> None:
        """Resumes jobs no task works on (a task that died, a submission that gave up), cancels hung
        tasks, and expires what can no longer be done."""
        while not await _sleep(cancel, self.settings.reaper_s):
            now = time.time()
            horizon = time.monotonic() - 3600.0  # latency marks of jobs never claimed: keep memory bounded
            for rid in [r for r, at in self.tally.seen_at.items() if at < horizon]:
                del self.tally.seen_at[rid]
            for job in self.journal.recoverable():
                if job.status in (S.QUEUED, S.DISCOVERED):
                    continue
                task = self._active.get(job.id)
                if task is not None:
                    # A task that has not moved its job for stuck_after_s is hung (proving is exempt: the pool
                    # kills and retries hung prove tasks itself): cancel it; the next pass resumes the job.
                    if job.status is not S.PROVING and now - job.updated_at >= self.settings.stuck_after_s:
                        task.cancel()
                    continue
                if job.expires_at <= now and job.status not in HOLDS_PROOF:
                    await scheduler_change(
                        self.scheduler, "move", job.id, S.EXPIRED, expected=job.status, detail="expired (reaper)"
                    )
                    continue
                await self._resume(job)  # no task works on it: orphaned (a task that failed, a gave-up submission)

    # ---- admission ----

    async def on_event(self, event: EngineEvent) -> None:
        """Events only start or stop work; each handler is idempotent (duplicates change nothing)."""
        if "requestId" not in event.args:
            return  # not about a job (ownership, fees, pauses)
        rid = int(event.args["requestId"])
        job = self.journal.find(job_id_of(rid))
        if event.name == "ExecutionRequested":
            self.tally.seen_at.setdefault(rid, time.monotonic())
            a = event.args
            facts = {
                "image_id": "0x" + bytes(a["imageId"]).hex(), "input_digest": "0x" + bytes(a["inputDigest"]).hex(),
                "input_url": a["inputUrl"], "tip": int(a["tip"]), "expires_at": float(a["expiresAt"]),
            }  # fmt: skip
            await self.offer_request(rid, facts)
        elif job is None or job.status in TERMINAL or job.id in self._active:
            return  # unknown, settled, or its task checks the chain itself before each step
        elif event.name in ("ExecutionClaimed", "ExecutionCompleted"):
            if event.args.get("prover") == self.chain.address or job.status is not S.QUEUED:
                return
            if event.name == "ExecutionClaimed" and await self._lapsed(int(event.args["claimDeadline"])):
                return  # a claim already past its deadline (seen late, in a back-fill): ours to take over
            why = f"{event.name} by another prover"
            await scheduler_change(self.scheduler, "move", job.id, S.SKIPPED, expected=S.QUEUED, error=why)
        elif event.name == "ExecutionCancelled" and job.status not in HOLDS_PROOF:
            why = "cancelled by the requester"
            await scheduler_change(self.scheduler, "move", job.id, S.CANCELLED, expected=job.status, error=why)

    async def _lapsed(self, claim_deadline: int) -> bool:
        try:
            return claim_deadline <= await self.chain.chain_time()
        except Exception:  # the chain is unreachable: treat the claim as live (the job is skipped)
            return False

    async def offer_request(self, request_id: int, facts: dict[str, Any] | None = None) -> None:
        """Offer a chain job to the scheduler once: checks the program, profit and (rough) deadline first."""
        job_id = job_id_of(request_id)
        known = self.journal.find(job_id)
        if known is not None and not may_return(known, from_sweep=facts is None):
            return  # each job is handled once; only one turned away for a passing reason comes back
        if request_id in self._offering:
            return
        self._offering.add(request_id)
        try:
            await self._offer(request_id, job_id, facts)
        finally:
            self._offering.discard(request_id)

    async def _offer(self, request_id: int, job_id: str, facts: dict[str, Any] | None) -> None:
        now = time.time()
        requested_at = now
        if facts is None:
            state = await self.chain.job_state(request_id)
            if state.status is not RequestStatus.PENDING:
                return
            requested_at = float(state.created_at)
            facts = {
                "image_id": "0x" + state.image_id.hex(), "input_digest": "0x" + state.input_digest.hex(),
                "input_url": state.input_url, "tip": state.tip, "expires_at": float(state.expires_at),
            }  # fmt: skip
        offer = JobOffer(
            job_id=job_id, source="engine", image_id=facts["image_id"], input_url=facts["input_url"],
            input_digest=facts["input_digest"], tip_wei=facts["tip"], requested_at=requested_at,
            expires_at=facts["expires_at"], payload={"request_id": request_id},
            cycles=self.estimates.estimate(facts["image_id"], facts["input_digest"]),  # None: never measured
        )  # fmt: skip
        why_not = await self._unprofitable(offer, now)
        if why_not is not None:
            if self.journal.find(job_id) is None:
                self.journal.add_job(
                    job_id, source="engine", image_id=offer.image_id, input_url=offer.input_url,
                    input_digest=offer.input_digest, tip_wei=offer.tip_wei, expires_at=offer.expires_at,
                    payload={"request_id": request_id, "requested_at": requested_at},
                )  # fmt: skip
                self.journal.transition(job_id, S.SKIPPED, error=why_not)
            self._count("unprofitable")
            return
        result = await _ask(self.scheduler, "offer", offer)
        self._count(result.admission.value)
        if result.admission is Admission.CLOSED:
            # Journaled as SKIPPED "admission closed: ..." by the scheduler; the sweep offers it again later.
            return
        self._wake.set()

    async def _unprofitable(self, offer: JobOffer, now: float) -> str | None:
        """Why the job is not worth taking at current gas (None: it is)."""
        try:
            gas_price = await self.chain.gas_price()
        except Exception:  # unknown gas: admit, the claim step reads the chain again
            return None
        # before preflight the cycles are an estimate from earlier runs of the program, else a typical job's
        eta = proving_eta(offer.cycles or ASSUMED_CYCLES, self.prover.speed)
        payout = expected_payout(offer.tip_wei, offer.requested_at, now, eta)
        verdict = check_profit(payout, gas_price, self.settings.claim_gas, self.settings.submit_gas,
                               self.settings.min_margin)  # fmt: skip
        return None if verdict.ok else f"unprofitable: {verdict.reason}"

    def _count(self, what: str) -> None:
        self.offers[what] = self.offers.get(what, 0) + 1

    # ---- services ----

    async def _dispatch(self, cancel: asyncio.Event) -> None:
        """Hands the best queued job to a task while fewer than `max_jobs_in_flight` run."""
        while not cancel.is_set():
            while self.active < self.settings.max_jobs_in_flight:
                job = await _ask(self.scheduler, "next_job")
                if job is None:
                    break
                self.spawn(job.id, self._api_job(job) if job.source == API else self.runner.from_fetching(job))
            self._wake.clear()
            await _wait_any(cancel, self._wake, 0.25)

    async def _health(self, cancel: asyncio.Event) -> None:
        """Breakers → degradation mode → what the scheduler admits and which backends the pool uses."""
        previous = Mode.NORMAL
        reconnects = 0
        while not await _sleep(cancel, self.settings.health_s):
            if self.events is not None and self.sweep is not None:
                seen = self.events.stream.stats.reconnects
                if seen != reconnects:  # a gap in the event stream: the sweep double-checks what is pending
                    reconnects = seen
                    self.sweep.trigger()
            signals = await self.breakers.asignals() if hasattr(self.breakers, "asignals") else self.breakers.signals()
            mode = await _ask(self.scheduler, "update_health", signals)
            self.prover.set_flags(await _ask(self.scheduler, "flags"))
            if mode.severity < previous.severity:
                log.info("mode %s → %s", previous.value, mode.value)
                if mode.severity <= Mode.DEGRADED.severity and self.sweep is not None:
                    self.sweep.trigger()  # admission reopened: offer what was turned away meanwhile
            elif mode is not previous:
                log.warning("mode %s → %s", previous.value, mode.value)
            previous = mode

    async def _heartbeat(self, cancel: asyncio.Event) -> None:
        while not await _sleep(cancel, self.settings.heartbeat_s):
            with contextlib.suppress(Exception):  # counted by the rpc breaker inside
                await self.chain.heartbeat()

    def snapshot(self) -> dict[str, Any]:
        """Jobs by state, rates and earnings, for the progress display and tests."""
        snap = self.scheduler.snapshot()
        minutes = max((time.monotonic() - self.started) / 60.0, 1e-9)
        return {
            "counts": {k: v for k, v in snap["counts"].items() if v},
            "mode": snap["mode"], "mode_reason": snap["mode_reason"], "queued": snap["queued"],
            "active": self.active, "proofs": self.prover.proofs, "proofs_per_min": self.prover.proofs / minutes,
            "paid": self.tally.paid, "earned_wei": self.tally.earned_wei, "errors": list(self.tally.errors),
            "offers": dict(self.offers), "pool": self.prover.pool.stats(),
        }  # fmt: skip


async def _ask(scheduler: Any, method: str, *args: Any) -> Any:
    """A scheduler call from the event loop: awaited on the scheduler actor's handle (the loop is not held
    while the actor answers), a plain call on an in-process `JobScheduler`."""
    call = getattr(scheduler, "call", None)
    if call is not None:
        return await call(method, *args)
    return getattr(scheduler, method)(*args)


async def _sleep(cancel: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until cancelled; True when cancelled."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(cancel.wait(), seconds)
    return cancel.is_set()


async def _wait_any(cancel: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(cancel.wait()), asyncio.ensure_future(wake.wait())]
    await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for w in waiters:
        w.cancel()
