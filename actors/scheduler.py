"""The job scheduler: which job the node works on next, and the record of where every job stands.

It wraps the policy layer (score, bounded priority queue, degradation modes, job state machine) around
the durable job journal: every admission, eviction, expiry and status change is a journal transition,
so the in-memory queue can always be rebuilt from the journal after a restart. Admission closes when the
degradation mode says so (`accept_new_jobs`): a failing node stops taking work instead of piling it up.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from zkray.policy.degradation import DegradationConfig, DegradationState, FeatureFlags, HealthSignals, Mode, flags
from zkray.policy.degradation import transition as degrade
from zkray.policy.jobs import JobStatus, retry_status
from zkray.policy.queue import BoundedPriorityQueue, PushOutcome
from zkray.policy.scoring import JobFacts, ScoreWeights, score
from zkray.store import JobJournal, JobRecord

S = JobStatus


@dataclass(frozen=True)
class JobOffer:
    """A job a source (the chain, the HTTP API) offers the node."""

    job_id: str
    source: str
    image_id: str
    input_url: str
    input_digest: str
    tip_wei: int
    requested_at: float
    expires_at: float
    cycles: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


class Admission(StrEnum):
    """What `offer` did with a job."""

    QUEUED = "queued"
    DUPLICATE = "duplicate"  # already known and not re-offerable: each job is handled once
    REJECTED = "rejected"  # queue full and this job would be the worst
    EXPIRED = "expired"
    CLOSED = "closed"  # the degradation mode takes no new jobs


@dataclass(frozen=True)
class OfferResult:
    admission: Admission
    reason: str
    evicted: str | None = None  # the job that made room, now SKIPPED


class JobScheduler:
    """Queue, admission and job states over one journal file; safe to host in a single-threaded actor."""

    def __init__(
        self,
        journal_path: str | Path,
        *,
        capacity: int = 256,
        rescore_s: float = 1.0,
        weights: ScoreWeights | None = None,
        degradation: DegradationConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._journal = JobJournal(journal_path, clock=clock)
        self._queue: BoundedPriorityQueue[_Queued] = BoundedPriorityQueue(capacity)
        self._weights = weights or ScoreWeights()
        self._degradation_config = degradation or DegradationConfig()
        self._health = HealthSignals()
        self._mode = DegradationState(Mode.NORMAL, clock())
        self._cached: set[str] = set()
        self._rescore_s = rescore_s
        self._rescored_at = -math.inf
        self._rescore_due = False
        self._requeue_from_journal()

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    # ---- admission ----------------------------------------------------------------------------------

    def offer(self, job: JobOffer, now: float | None = None) -> OfferResult:
        """Admit a job into the queue, or say why not; every outcome is recorded in the journal.

        A new job that is queued is created in the journal as QUEUED in one write (one fsync per offer);
        the rarer outcomes (expired, admission closed, rejected) are recorded as DISCOVERED then why."""
        now = self._now(now)
        known = self._journal.find(job.job_id)
        if known is not None and known.status is not S.SKIPPED:
            return OfferResult(Admission.DUPLICATE, f"job is already {known.status.value}")
        if job.expires_at <= now:
            self._record(job, known, S.EXPIRED, now, "expired before admission")
            return OfferResult(Admission.EXPIRED, "the job had expired when offered")
        if not self.flags(now).accept_new_jobs:
            if known is None:
                self._record(job, None, S.SKIPPED, now, f"admission closed: {self._mode.reason}")
            return OfferResult(Admission.CLOSED, f"{self._mode.mode.value}: {self._mode.reason}")
        if known is not None:
            return self._push(known, now)
        facts = JobFacts(job.tip_wei, job.requested_at, job.expires_at, job.cycles)
        return self._admit(job.job_id, _Queued(_norm(job.image_id), facts), now, status=None, create=job)

    def _push(self, record: JobRecord, now: float) -> OfferResult:
        return self._admit(record.id, self._queued(record), now, status=record.status, create=None)

    def _admit(
        self, job_id: str, item: _Queued, now: float, *, status: JobStatus | None, create: JobOffer | None
    ) -> OfferResult:
        """Push into the queue and journal the outcome; `create` is the offer of a job not yet journaled."""
        pushed = self._queue.push(job_id, item, self._score(item, now))
        if pushed.outcome is PushOutcome.DUPLICATE:
            return OfferResult(Admission.DUPLICATE, "already queued")
        if pushed.outcome is PushOutcome.REJECTED:
            why = "queue full; scored below every queued job"
            if create is not None:
                self._record(create, None, S.SKIPPED, now, why)
            elif status is not S.SKIPPED:
                self._journal.transition(job_id, S.SKIPPED, now=now, error=why)
            return OfferResult(Admission.REJECTED, why)
        try:
            if create is not None:
                self._add(create, S.QUEUED, now)
            elif status is not S.QUEUED:
                self._journal.transition(job_id, S.QUEUED, now=now)
        except BaseException:
            self._queue.remove(job_id)  # the journal is the truth: never queue what it does not record
            raise
        evicted = None
        if pushed.evicted is not None:
            evicted = pushed.evicted.job_id
            self._journal.transition(evicted, S.SKIPPED, now=now, error=f"evicted from a full queue by {job_id}")
        return OfferResult(Admission.QUEUED, "queued", evicted)

    def _add(self, job: JobOffer, status: JobStatus, now: float) -> None:
        payload = {**job.payload, "requested_at": job.requested_at}
        self._journal.add_job(
            job.job_id, source=job.source, image_id=job.image_id, input_url=job.input_url,
            input_digest=job.input_digest, tip_wei=job.tip_wei, expires_at=job.expires_at, payload=payload,
            status=status, now=now,
        )  # fmt: skip

    def _record(self, job: JobOffer, known: JobRecord | None, status: JobStatus, now: float, why: str) -> None:
        """Journal a job that is not queued: created as DISCOVERED if new, then moved to `status` with `why`."""
        if known is None:
            self._add(job, S.DISCOVERED, now)
        self._journal.transition(job.job_id, status, now=now, error=why)

    def next_job(self, now: float | None = None) -> JobRecord | None:
        """The best queued job, moved to FETCHING; None when the queue is empty or admission is closed.

        Scores are recomputed at most every `rescore_s` (tips decay over minutes, not milliseconds; a
        rescore is O(n log n)) and whenever the cached programs change; expired jobs leave as EXPIRED.
        """
        now = self._now(now)
        if not self.flags(now).accept_new_jobs:
            return None
        if self._rescore_due or now - self._rescored_at >= self._rescore_s:
            self._queue.rescore(lambda item: self._score(item, now))
            self._rescored_at, self._rescore_due = now, False
            for entry in self._queue.drain_below(-sys.float_info.max):  # expired jobs score -inf
                self._expire(entry.job_id, now)
        while (best := self._queue.pop()) is not None:
            if best.item.facts.expires_at > now:
                return self._journal.transition(best.job_id, S.FETCHING, expected=S.QUEUED, now=now)
            self._expire(best.job_id, now)  # expired since the last rescore
        return None

    def _expire(self, job_id: str, now: float) -> None:
        self._journal.transition(job_id, S.EXPIRED, now=now, detail="expired in the queue")

    # ---- job states ---------------------------------------------------------------------------------

    def move(self, job_id: str, new: JobStatus, *, now: float | None = None, **fields: Any) -> JobRecord:
        """A guarded status change in the journal (fields as `JobJournal.transition`); leaving for a final or
        skipped status also takes the job out of the queue."""
        self._queue.remove(job_id)
        return self._journal.transition(job_id, new, now=self._now(now), **fields)

    def work_lost(
        self, job_id: str, error: str, now: float | None = None, *, expected: JobStatus | None = None
    ) -> JobRecord:
        """The work running for a job died (a killed task, a crash): step back one stage and count the try.

        A job stepping back to QUEUED is queued again; one that holds a claim goes back to CLAIMED for the
        prover to pick up. From CLAIMING or SUBMITTING the caller must have checked the chain first.
        `expected`: the status the caller saw (StatusConflict if it moved since), so a retried call never
        steps a job back twice."""
        now = self._now(now)
        record = self._journal.get(job_id)
        current = record.status if expected is None else expected
        back = retry_status(current)
        if back is None:
            raise ValueError(f"job {job_id} is {current.value}: nothing was running, nothing to retry")
        moved = self._journal.transition(job_id, back, expected=current, now=now, error=error, bump_attempts=True)
        if back is S.QUEUED:
            self._push(moved, now)
        return moved

    def job(self, job_id: str) -> JobRecord | None:
        return self._journal.find(job_id)

    def jobs(self, statuses: Iterable[JobStatus] | None = None) -> list[JobRecord]:
        return self._journal.jobs(statuses)

    def recoverable(self) -> list[JobRecord]:
        """Jobs with work pending after a restart, closest to payment first (the journal's order)."""
        return self._journal.recoverable()

    def store_proof(self, job_id: str, receipt: bytes, now: float | None = None) -> JobRecord:
        """PROVING → PROVED with the receipt stored in the same transaction."""
        return self._journal.transition(job_id, S.PROVED, expected=S.PROVING, now=self._now(now), proof=receipt)

    def proof(self, job_id: str) -> bytes | None:
        return self._journal.get_proof(job_id)

    # ---- degradation and scoring inputs --------------------------------------------------------------

    def update_health(self, signals: HealthSignals, now: float | None = None) -> Mode:
        """Feed the breakers' signals to the degradation policy; returns the (possibly new) mode."""
        self._health = signals
        self._mode = degrade(self._mode, signals, self._now(now), self._degradation_config)
        return self._mode.mode

    def flags(self, now: float | None = None) -> FeatureFlags:
        """What the node may do in its current mode."""
        return flags(self._mode.mode, self._health)

    def set_cached(self, image_ids: Iterable[str], cached: bool = True) -> None:
        """Programs now in (or gone from) the program cache: cached programs score higher."""
        ids = {_norm(i) for i in image_ids}
        self._cached = self._cached | ids if cached else self._cached - ids
        self._rescore_due = True

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """Jobs by status, the queue and the mode, for the dashboard (JSON-safe)."""
        best, worst = self._queue.peek_best(), self._queue.peek_worst()
        return {
            "counts": {s.value: n for s, n in self._journal.counts().items()},
            "queued": len(self._queue),
            "capacity": self._queue.capacity,
            "best": None if best is None else {"job_id": best.job_id, "score": best.score},
            "worst": None if worst is None else {"job_id": worst.job_id, "score": worst.score},
            "mode": self._mode.mode.value,
            "mode_reason": self._mode.reason,
            "mode_since": self._mode.since,
            "flags": vars(self.flags(now)),
        }

    def close(self) -> None:
        self._journal.close()

    # ---- internals ----------------------------------------------------------------------------------

    def _queued(self, record: JobRecord) -> _Queued:
        requested = float(record.payload.get("requested_at", record.created_at))
        facts = JobFacts(record.tip_wei, requested, record.expires_at, record.cycles)
        return _Queued(_norm(record.image_id), facts)

    def _score(self, item: _Queued, now: float) -> float:
        return score(replace(item.facts, program_cached=item.image_id in self._cached), now, self._weights)

    def _requeue_from_journal(self) -> None:
        """After a restart the queue is empty but the journal knows what was queued: put those back."""
        now = self._clock()
        for record in self._journal.jobs([S.DISCOVERED, S.QUEUED]):
            if record.expires_at <= now:
                self._journal.transition(record.id, S.EXPIRED, now=now, detail="expired while the node was down")
                continue
            self._push(record, now)


@dataclass(frozen=True)
class _Queued:
    """What the queue holds per job: enough to score it again without reading the journal."""

    image_id: str
    facts: JobFacts


def _norm(image_id: str) -> str:
    """One spelling per image id: lower-case hex without 0x (as the program cache keys it)."""
    return image_id.lower().removeprefix("0x")
