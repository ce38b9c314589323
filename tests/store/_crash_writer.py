"""Child process for the crash test: drives jobs through the whole life cycle until it is killed.

Prints "<job id> <status>" after each committed change, so the parent knows what must survive.
"""

from __future__ import annotations

import sys

from zkray.policy.jobs import JobStatus
from zkray.store import JobJournal

S = JobStatus
PATH = [S.QUEUED, S.FETCHING, S.PREFLIGHT, S.CLAIMING, S.CLAIMED, S.PROVING, S.PROVED, S.SUBMITTING]


def main(path: str) -> None:
    journal = JobJournal(path)
    for n in range(100_000):
        job_id = f"job{n}"
        journal.add_job(
            job_id, source="chain", image_id="i", input_url="u", input_digest="d", tip_wei=n, expires_at=9e9
        )
        for status in PATH:
            proof = f"receipt-{job_id}".encode() * 50 if status is S.PROVED else None
            journal.transition(job_id, status, proof=proof)
            journal.advance_cursor("block", n)
            print(job_id, status.value, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
