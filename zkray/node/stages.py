"""One job's way through the node: fetch → preflight → claim → prove → submit, one stage after another.

Stages of one job run in one task, in order, so a claim and a submission for the same job are never in
flight together. Every status change goes through the scheduler's guarded journal transitions; a change
that loses its compare-and-set (an event moved the job meanwhile) ends the task, and the journal's
status says what happens next. Each entry point starts from the status a job is in, which is how a
restarted node resumes: a claimed job is proved, a proved job is submitted, nothing is done twice.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from actors.handles import SchedulerHandle
from actors.scheduler import JobScheduler
from zkray.chain.client import RequestStatus
from zkray.chain.errors import ChainError, ContractError, TxReverted
from zkray.fetch import FetchError, InputFetcher
from zkray.node.chain_access import ChainAccess
from zkray.node.estimates import CycleEstimates
from zkray.node.inputs import JobUnprovable, Preflight, builtin_name, fetch_input, preflight
from zkray.node.programs import DEFAULT_SEGMENT_CYCLES, ElfPreflight, NodePrograms, preflight_elf
from zkray.node.prover import ProverService
from zkray.node.proving import Fault, ProveFailed, ProveRequest
from zkray.node.submitter import Settled, Submitter
from zkray.policy.compression import Purpose, compress, decompress
from zkray.policy.jobs import JobStatus
from zkray.policy.profitability import check_deadline
from zkray.store import JobJournal, JobRecord

S = JobStatus
log = logging.getLogger("zkray.node")
FETCH_TRIES = 3


class NodeKilled(BaseException):
    """A drill: the node process dies here (no drain, no cleanup), as under `kill -9`."""


@dataclass
class Drills:
    """Faults an operator or a test injects into a live node to watch it recover."""

    kill_after_proved: int | None = None  # die right after the n-th proof is stored, before submitting
    hard: bool = False  # die as the process (os._exit, nothing flushed or closed), not just the node
    prove_faults: dict[int, Fault] = field(default_factory=dict)  # request id -> fault for its prove task


@dataclass
class Tally:
    """What the progress display and the benchmark read."""

    earned_wei: int = 0
    paid: int = 0
    proved: int = 0
    submissions: int = 0
    seen_at: dict[int, float] = field(default_factory=dict)  # request id -> first event (monotonic)
    claim_latency_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class JobRunner:
    """The stages; owns no state but the tally, everything else is in the journal."""

    def __init__(
        self,
        scheduler: JobScheduler | SchedulerHandle,
        journal: JobJournal,
        chain: ChainAccess,
        fetcher: InputFetcher,
        prover: ProverService,
        submitter: Submitter,
        *,
        task_timeout_s: float | None,
        programs: NodePrograms,
        drills: Drills | None = None,
        segment_cycles: int = DEFAULT_SEGMENT_CYCLES,
    ) -> None:
        self.scheduler = scheduler
        self.journal = journal
        self.chain = chain
        self.fetcher = fetcher
        self.prover = prover
        self.submitter = submitter
        self.task_timeout_s = task_timeout_s
        self.drills = drills or Drills()
        self.programs = programs  # RV32IM guests' ELFs, pinned per job from preflight to the task's end
        self.segment_cycles = segment_cycles
        self.estimates = CycleEstimates(journal)  # what preflight measures, for scoring the next offers
        self.tally = Tally()

    async def _change(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await scheduler_change(self.scheduler, method, *args, **kwargs)

    # ---- entry points by status ----

    async def from_fetching(self, job: JobRecord) -> None:
        """A job the scheduler just handed out (FETCHING)."""
        try:
            await self._from_fetching(job)
        finally:
            await self._release(job.id)

    async def _from_fetching(self, job: JobRecord) -> None:
        rid = _rid(job)
        loaded = await self._load(job, on_retry=S.QUEUED)
        if loaded is None:
            return
        data, pf = loaded
        self.estimates.record(job.image_id, job.input_digest, pf.cycles)
        await self._change("move", job.id, S.PREFLIGHT, expected=S.FETCHING, cycles=pf.cycles)
        verdict = check_deadline(pf.cycles, self.prover.speed_for(pf.cycles), time.time(), job.expires_at)
        if not verdict.ok:
            await self._change("move", job.id, S.SKIPPED, expected=S.PREFLIGHT, error=f"deadline: {verdict.reason}")
            return
        await self._change("move", job.id, S.CLAIMING, expected=S.PREFLIGHT)
        if await self.claim(job.id, rid):
            await self.prove_and_submit(job.id, rid, data, pf)

    async def from_claiming(self, job: JobRecord) -> None:
        """After a restart in CLAIMING: the claim may have landed; the chain says."""
        if await self.claim(job.id, _rid(job)):
            await self.from_claimed(self.journal.get(job.id))

    async def from_claimed(self, job: JobRecord) -> None:
        """A job we hold a claim on and have no proof for (after a restart, or a reaped prove)."""
        try:
            if job.status is S.PROVING:
                job = await self._change("work_lost", job.id, "resumed after the node restarted")
            loaded = await self._load(job, on_retry=None)
            if loaded is not None:
                await self.prove_and_submit(job.id, _rid(job), *loaded)
        finally:
            await self._release(job.id)

    async def from_proved(self, job: JobRecord) -> None:
        """A job with a stored proof: submit it (after checking the chain), never prove it again."""
        try:
            if job.status is S.SUBMITTING:
                why = "submission interrupted; checking the chain before resubmitting"
                await self._change("work_lost", job.id, why)
            await self.submit(job.id, _rid(job))
        finally:
            await self._release(job.id)

    async def _release(self, job_id: str) -> None:
        """The job's task ends: unpin its program (a no-op for a job that held none)."""
        await self.programs.release(job_id)

    # ---- stages ----

    async def _load(self, job: JobRecord, on_retry: JobStatus | None) -> tuple[bytes, Preflight] | None:
        """Fetch and preflight; None when the job was moved (skipped, failed, back to the queue)."""
        try:
            data = await fetch_input(self.fetcher, job.input_url, job.input_digest)
            if builtin_name(job.image_id) is None:
                # an RV32IM guest: its ELF from the program cache (else the registry), pinned for this job;
                # executed untraced to count cycles and plan segments (a faulting guest is skipped here)
                program = await self.programs.load(job.image_id, job.id)
                return data, await preflight_elf(program, data, self.segment_cycles)
            return data, await preflight(job.image_id, data)
        except JobUnprovable as exc:
            await self._end(job.id, S.SKIPPED, str(exc))
        except ChainError as exc:  # the registry lookup: the chain is unreachable, not the job's fault
            if on_retry is not None:
                await self._change("work_lost", job.id, f"program lookup failed: {exc}")
            # else it holds a claim: the task ends, the job stays CLAIMED, and the reaper resumes it
        except FetchError as exc:
            if exc.retryable and on_retry is not None and job.attempts + 1 < FETCH_TRIES:
                await self._change("work_lost", job.id, f"input fetch failed: {exc}")
            else:
                await self._end(job.id, S.FAILED, f"input unavailable: {exc}")
        return None

    async def claim(self, job_id: str, rid: int) -> bool:
        """CLAIMING → CLAIMED, reading the job on-chain first; False when the job went elsewhere."""
        try:
            state = await self.chain.job_state(rid)
            lapsed = state.status is RequestStatus.CLAIMED and state.claim_deadline <= await self.chain.chain_time()
            if not await self._claimable(job_id, state, lapsed):
                return False
            if state.claimant != self.chain.address:
                try:
                    await self.chain.claim(rid)
                except (ContractError, TxReverted) as exc:
                    log.info("claim of %s reverted: %s", rid, exc)
                state = await self.chain.job_state(rid)
                if state.claimant != self.chain.address or state.status is not RequestStatus.CLAIMED:
                    if await self._claimable(job_id, state):  # unchanged: try again from the queue
                        await self._change("work_lost", job_id, "claim did not land")
                    return False
        except Exception as exc:  # the chain is unreachable: back to the queue, the claim is re-read
            await self._change("work_lost", job_id, f"claim: {exc}")
            return False
        await self._change("move", job_id, S.CLAIMED, expected=S.CLAIMING, claim_deadline=float(state.claim_deadline))
        seen = self.tally.seen_at.pop(rid, None)
        if seen is not None:
            self.tally.claim_latency_s.append(time.monotonic() - seen)
        return True

    async def _claimable(self, job_id: str, state: Any, lapsed: bool = False) -> bool:
        me = self.chain.address
        if state.status is RequestStatus.CLAIMED and state.claimant == me:
            return True
        if state.status is RequestStatus.PENDING:
            return True
        if lapsed:
            return True  # another prover's claim passed its deadline: the engine lets us take it (ClaimExpired)
        if state.status is RequestStatus.CANCELLED:
            await self._end(job_id, S.CANCELLED, "cancelled by the requester")
        elif state.status is RequestStatus.COMPLETED:
            await self._end(job_id, S.SKIPPED, "completed by another prover before we claimed")
        else:
            await self._end(job_id, S.SKIPPED, f"claimed by {state.claimant}")
        return False

    async def prove_and_submit(self, job_id: str, rid: int, data: bytes, pf: Preflight) -> None:
        record = await self._change("move", job_id, S.PROVING, expected=S.CLAIMED)
        plan = pf if isinstance(pf, ElfPreflight) else None  # an ELF job fans out into its planned segments
        request = ProveRequest(
            job_id, pf.program, data, kind=pf.kind, image_id=bytes.fromhex(record.image_id.removeprefix("0x")),
            timeout_s=self.task_timeout_s, fault=self.drills.prove_faults.get(rid),
            segments=plan.segments if plan else None, segment_cycles=plan.segment_cycles if plan else None,
        )  # fmt: skip
        try:
            receipt = await self.prover.prove(
                request, image_id=record.image_id, input_digest=record.input_digest, cycles=pf.cycles
            )
        except ProveFailed as exc:
            await self._end(job_id, S.FAILED, f"proving failed: {exc}")
            return
        # Stored compressed (zstd, policy default for bytes kept): PROVED iff the receipt is on disk.
        await self._change("store_proof", job_id, compress(receipt, Purpose.SIZE))
        self.tally.proved += 1
        if self.drills.kill_after_proved is not None and self.tally.proved >= self.drills.kill_after_proved:
            if self.drills.hard:
                os._exit(137)  # what SIGKILL (or the OOM killer) leaves: the journal as committed, nothing more
            raise NodeKilled(f"drill: killed after storing the proof of job {job_id}")
        await self.submit(job_id, rid)

    async def submit(self, job_id: str, rid: int) -> None:
        record = self.journal.get(job_id)
        if builtin_name(record.image_id) is None:
            # the attesters verify a composite receipt with its ELF: have it here (pinned) before attesting
            try:
                await self.programs.load(record.image_id, job_id)
            except (ChainError, JobUnprovable, FetchError) as exc:
                log.warning("job %s: its program is unavailable for attestation: %s", job_id, exc)
                return  # stays PROVED: the reaper submits it again once the program can be had
        record = await self._change("move", job_id, S.SUBMITTING, expected=S.PROVED)
        stored = self.journal.get_proof(job_id)
        if stored is None:  # cannot happen: PROVED implies a stored proof
            await self._end(job_id, S.FAILED, "no stored proof for a PROVED job")
            return
        result = await self.submitter.submit(rid, decompress(stored), record.claim_deadline)
        self.tally.submissions += result.sent
        if result.settled is Settled.PAID:
            assert result.completion is not None
            payout = result.completion.payout
            await self._change(
                "move", job_id, S.COMPLETED, expected=S.SUBMITTING, detail=result.reason,
                payload={"payout_wei": str(payout), "tx": result.completion.tx_hash},
            )  # fmt: skip
            self.tally.earned_wei += payout
            self.tally.paid += 1
        elif result.settled is Settled.GAVE_UP:
            await self._change("work_lost", job_id, f"submission: {result.reason}")  # back to PROVED; retried later
        elif result.settled is Settled.CANCELLED:
            await self._end(job_id, S.CANCELLED, result.reason)
        else:
            await self._end(job_id, S.SKIPPED, result.reason)

    async def _end(self, job_id: str, status: JobStatus, why: str) -> None:
        current = self.journal.get(job_id).status
        if current is status:
            return
        await self._change("move", job_id, status, expected=current, error=why)
        if status is S.FAILED:
            self.tally.errors.append(f"{job_id}: {why}")


async def scheduler_change(scheduler: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """A journal change (`move`, `store_proof`, `work_lost`) from the event loop: awaited on the scheduler
    actor's handle (`amove`, ...), so a scheduler that restarts does not hold the loop (and every other job)
    while it comes back; a plain call on an in-process `JobScheduler`."""
    if isinstance(scheduler, SchedulerHandle):
        return await getattr(scheduler, "a" + method)(*args, **kwargs)
    return getattr(scheduler, method)(*args, **kwargs)


def _rid(job: JobRecord) -> int:
    return int(job.payload["request_id"])
