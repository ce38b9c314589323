"""One status enum for every job the node sees, and the only transitions it may make.

The happy path is DISCOVERED → QUEUED → FETCHING → PREFLIGHT → CLAIMING → CLAIMED → PROVING →
PROVED → SUBMITTING → COMPLETED. Retries step back one stage (RETRY_FROM: PROVING → CLAIMED after a
killed prove task, SUBMITTING → PROVED after a failed submission, FETCHING → QUEUED after a failed
fetch), never further, so a job that holds a claim or a proof can never lose it by moving backwards.
COMPLETED, FAILED, EXPIRED and CANCELLED are final; SKIPPED (not ours to do now: unprofitable, claimed
or completed by another prover, evicted from the queue) may be re-queued when the chain offers it again.
"""

from __future__ import annotations

from enum import StrEnum

from zkray.policy.errors import InvalidTransition


class JobStatus(StrEnum):
    """Where a job stands on this node; stored by value in the journal."""

    DISCOVERED = "discovered"
    QUEUED = "queued"
    FETCHING = "fetching"
    PREFLIGHT = "preflight"
    CLAIMING = "claiming"
    CLAIMED = "claimed"
    PROVING = "proving"
    PROVED = "proved"
    SUBMITTING = "submitting"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


S = JobStatus

FINAL: frozenset[JobStatus] = frozenset({S.COMPLETED, S.FAILED, S.EXPIRED, S.CANCELLED})
"""No transition leaves these."""

TERMINAL: frozenset[JobStatus] = FINAL | {S.SKIPPED}
"""No work is pending: recovery after a restart leaves these alone."""

HOLDS_CLAIM: frozenset[JobStatus] = frozenset({S.CLAIMED, S.PROVING, S.PROVED, S.SUBMITTING})
"""The node has a claim on-chain: these must be resumed after a crash, before the claim deadline."""

HOLDS_PROOF: frozenset[JobStatus] = frozenset({S.PROVED, S.SUBMITTING})
"""A finished proof exists for these; it is submitted, never proven again."""

WORKING: frozenset[JobStatus] = frozenset({S.FETCHING, S.PREFLIGHT, S.CLAIMING, S.PROVING, S.SUBMITTING})
"""Something is running for these; one that stays here too long is stuck and a reaper steps it back."""

# Every non-final status may end in one of these (the chain or the requester decided, or we gave up).
_ENDINGS = frozenset({S.FAILED, S.EXPIRED, S.CANCELLED, S.SKIPPED})

_NEXT: dict[JobStatus, frozenset[JobStatus]] = {
    S.DISCOVERED: frozenset({S.QUEUED}),
    S.QUEUED: frozenset({S.FETCHING}),
    S.FETCHING: frozenset({S.PREFLIGHT, S.QUEUED}),
    S.PREFLIGHT: frozenset({S.CLAIMING, S.QUEUED}),
    S.CLAIMING: frozenset({S.CLAIMED, S.QUEUED}),
    S.CLAIMED: frozenset({S.PROVING}),
    S.PROVING: frozenset({S.PROVED, S.CLAIMED}),
    S.PROVED: frozenset({S.SUBMITTING, S.COMPLETED}),
    S.SUBMITTING: frozenset({S.COMPLETED, S.PROVED}),
}

ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    **{status: next_ | _ENDINGS for status, next_ in _NEXT.items()},
    S.SKIPPED: frozenset({S.QUEUED, S.EXPIRED, S.CANCELLED}),
    **{status: frozenset() for status in FINAL},
}
"""ALLOWED[a] is the set of statuses a job in status a may move to; no status moves to itself."""


RETRY_FROM: dict[JobStatus, JobStatus] = {
    S.FETCHING: S.QUEUED,
    S.PREFLIGHT: S.QUEUED,
    S.CLAIMING: S.QUEUED,
    S.PROVING: S.CLAIMED,
    S.SUBMITTING: S.PROVED,
}
"""Where a working job goes when its work died (a killed task, a crash, the reaper): one stage back."""


def retry_status(status: JobStatus) -> JobStatus | None:
    """The status to retry from after the work in `status` was lost; None when nothing was running.

    From CLAIMING and SUBMITTING the caller must first read the job on-chain: a claim or a submission
    reported as failed may have landed (then move forward to CLAIMED or COMPLETED instead).
    """
    return RETRY_FROM.get(status)


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    """Whether `current → new` is allowed."""
    return new in ALLOWED[current]


def transition(current: JobStatus, new: JobStatus, job_id: str | None = None) -> JobStatus:
    """Return `new` if the move is allowed; raise InvalidTransition (naming the job) if not."""
    if new not in ALLOWED[current]:
        raise InvalidTransition(current, new, job_id)
    return new


def is_terminal(status: JobStatus) -> bool:
    """True when no work is pending for a job in `status`."""
    return status in TERMINAL
