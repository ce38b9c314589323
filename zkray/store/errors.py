"""The job journal's exception tree, drawn once:

    StoreError                    the journal refused or could not do what was asked
    ├── JobNotFound               no job with that id; it was never added (or the id is mistyped)
    ├── StatusConflict            compare-and-set lost: the job's status changed under the caller
    ├── ProofConflict             a different receipt is already stored for the job (proofs are write-once)
    └── StoreCorrupted            bytes read back do not match their digest, or the schema is unknown

A forbidden status change raises the policy layer's `InvalidTransition` unchanged: it is the state
machine's verdict, not a storage failure. `sqlite3` errors other than these propagate as they are.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the job journal raises on purpose."""


class JobNotFound(StoreError):
    """No job with this id is in the journal; add it first with `add_job`."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} is not in the journal; add it with add_job first")


class StatusConflict(StoreError):
    """The job was not in the expected status: another worker moved it first; re-read and decide again."""

    def __init__(self, job_id: str, expected: object, actual: object) -> None:
        self.job_id = job_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"job {job_id}: expected status {getattr(expected, 'value', expected)} but it is "
            f"{getattr(actual, 'value', actual)}; another worker moved it, re-read the job"
        )


class ProofConflict(StoreError):
    """A different receipt is already stored for this job; stored proofs are never overwritten."""


class StoreCorrupted(StoreError):
    """The database holds something this code did not write; restore it from a backup or start afresh."""
