"""Helpers for the observability tests: walking real jobs through the journal, and a test-owned clock."""

from __future__ import annotations

from zkray.policy.jobs import JobStatus
from zkray.store.journal import JobJournal

S = JobStatus
HAPPY_PATH = [S.QUEUED, S.FETCHING, S.PREFLIGHT, S.CLAIMING, S.CLAIMED, S.PROVING, S.PROVED, S.SUBMITTING, S.COMPLETED]


class Clock:
    """Time the test moves by hand, so rates are exact and nothing depends on the wall clock."""

    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def add(journal: JobJournal, job_id: str, *, tip_wei: int = 10**15) -> None:
    journal.add_job(job_id, source="chain", image_id="0x" + "ab" * 32, input_url="https://example.org/in",
                    input_digest="0x" + "cd" * 32, tip_wei=tip_wei, expires_at=journal._clock() + 3600)  # fmt: skip


def walk(journal: JobJournal, job_id: str, to: JobStatus, *, cycles: int = 1000, payout_wei: int = 0) -> None:
    """Move a job along the happy path, through every guarded transition, until it reaches `to`."""
    current = journal.get(job_id).status
    path = HAPPY_PATH[HAPPY_PATH.index(current) + 1 :] if current in HAPPY_PATH else HAPPY_PATH
    for status in path:
        kwargs: dict = {}
        if status is S.PREFLIGHT:
            kwargs["cycles"] = cycles
        if status is S.PROVED:
            kwargs["proof"] = f"receipt of {job_id}".encode()
        if status is S.COMPLETED:
            kwargs["payload"] = {"payout_wei": str(payout_wei), "tx": "0x" + "ee" * 32}
        journal.transition(job_id, status, **kwargs)
        if status is to:
            return
    raise AssertionError(f"{to} is not ahead of {current} on the happy path")
