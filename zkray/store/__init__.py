"""The node's durable state: a SQLite job journal with guarded status changes, cursors and proofs."""

from zkray.store.errors import JobNotFound, ProofConflict, StatusConflict, StoreCorrupted, StoreError
from zkray.store.journal import JobJournal
from zkray.store.records import JobEvent, JobRecord

__all__ = [
    "JobEvent",
    "JobJournal",
    "JobNotFound",
    "JobRecord",
    "ProofConflict",
    "StatusConflict",
    "StoreCorrupted",
    "StoreError",
]
