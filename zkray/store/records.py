"""What the journal hands back: plain frozen records, decoded from rows once, here."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from zkray.policy.jobs import JobStatus

JOB_COLUMNS = (
    "id, source, status, image_id, input_url, input_digest, tip_wei, expires_at, claim_deadline, "
    "cycles, attempts, error, created_at, updated_at, payload"
)


@dataclass(frozen=True)
class JobRecord:
    """One job as the journal last recorded it; `tip_wei` is an exact integer."""

    id: str
    source: str
    status: JobStatus
    image_id: str
    input_url: str
    input_digest: str
    tip_wei: int
    expires_at: float
    claim_deadline: float | None
    cycles: int | None
    attempts: int
    error: str | None
    created_at: float
    updated_at: float
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> JobRecord:
        """Decode a row selected with JOB_COLUMNS."""
        (id_, source, status, image_id, url, digest, tip, expires, deadline, cycles, attempts, error,
         created, updated, payload) = tuple(row)  # fmt: skip
        return cls(
            id=id_,
            source=source,
            status=JobStatus(status),
            image_id=image_id,
            input_url=url,
            input_digest=digest,
            tip_wei=int(tip),
            expires_at=expires,
            claim_deadline=deadline,
            cycles=cycles,
            attempts=attempts,
            error=error,
            created_at=created,
            updated_at=updated,
            payload=json.loads(payload),
        )


@dataclass(frozen=True)
class JobEvent:
    """One status change in the audit log; `from_status` is None for the job's creation."""

    seq: int
    job_id: str
    from_status: JobStatus | None
    to_status: JobStatus
    at: float
    detail: str | None
