"""The durable job journal: every job, every status change, cursors and finished proofs, in SQLite.

Status changes go only through `transition`, which applies the policy layer's guarded table inside one
write transaction (compare-and-set on the old status) and appends to the audit log in the same
transaction, so the journal and its log never disagree, even after a crash. A proof is stored in the
same transaction that marks the job PROVED: a job is PROVED if and only if its receipt is on disk.

Each thread gets its own connection (SQLite connections are not shared across threads safely);
writers queue on SQLite's lock for up to `timeout_s`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zkray.policy.jobs import TERMINAL, WORKING, JobStatus
from zkray.policy.jobs import transition as guarded
from zkray.store.errors import JobNotFound, ProofConflict, StatusConflict, StoreCorrupted, StoreError
from zkray.store.records import JOB_COLUMNS, JobEvent, JobRecord
from zkray.store.schema import connect, migrate

# Recovery resumes the jobs closest to being paid first: a stored proof is worth more than a fresh claim.
_RECOVERY_ORDER = [
    JobStatus.SUBMITTING,
    JobStatus.PROVED,
    JobStatus.PROVING,
    JobStatus.CLAIMED,
    JobStatus.CLAIMING,
    JobStatus.PREFLIGHT,
    JobStatus.FETCHING,
    JobStatus.QUEUED,
    JobStatus.DISCOVERED,
]


class JobJournal:
    """One SQLite file (WAL) holding the node's jobs; safe to share between threads."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._clock = clock
        self._timeout_s = timeout_s
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        migrate(self._conn())

    # ---- connections -------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"journal {self.path} is closed; open a new JobJournal")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, self._timeout_s)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the lock first, so reads inside it are current."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT leaves it open: never leak it into the next call
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close every thread's connection; the file stays consistent (WAL is checkpointed on last close)."""
        with self._lock:
            self._closed = True
            for conn in self._all:
                conn.close()
            self._all.clear()

    def __enter__(self) -> JobJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    # ---- jobs --------------------------------------------------------------------------------------

    def add_job(
        self,
        job_id: str,
        *,
        source: str,
        image_id: str,
        input_url: str,
        input_digest: str,
        tip_wei: int,
        expires_at: float,
        payload: dict[str, Any] | None = None,
        status: JobStatus = JobStatus.DISCOVERED,
        now: float | None = None,
    ) -> bool:
        """Record a newly seen job; False (and no change) if already known, so duplicates are harmless."""
        now = self._now(now)
        with self._write() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO jobs (id, source, status, image_id, input_url, input_digest, tip_wei,"
                " expires_at, created_at, updated_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, source, status.value, image_id, input_url, input_digest, str(int(tip_wei)),
                 expires_at, now, now, json.dumps(payload or {}, sort_keys=True)),
            )  # fmt: skip
            if cur.rowcount == 0:
                return False
            self._log(conn, job_id, None, status, now, f"added from {source}")
        return True

    def transition(
        self,
        job_id: str,
        new: JobStatus,
        *,
        expected: JobStatus | None = None,
        now: float | None = None,
        error: str | None = None,
        detail: str | None = None,
        cycles: int | None = None,
        claim_deadline: float | None = None,
        payload: dict[str, Any] | None = None,
        bump_attempts: bool = False,
        proof: bytes | None = None,
    ) -> JobRecord:
        """Move a job to `new` if the state machine allows it from its current status (and that status is
        `expected`, when given); set the given fields, store `proof` and log the change, all atomically.

        Raises JobNotFound, StatusConflict (status was not `expected`) or InvalidTransition (forbidden move).
        """
        now = self._now(now)
        with self._write() as conn:
            current = self._status(conn, job_id)
            if expected is not None and current is not expected:
                raise StatusConflict(job_id, expected, current)
            guarded(current, new, job_id)
            if proof is not None:
                self._put_proof(conn, job_id, proof, now)
            sets = ["status = ?", "updated_at = ?"]
            args: list[Any] = [new.value, now]
            for column, value in (("error", error), ("cycles", cycles), ("claim_deadline", claim_deadline)):
                if value is not None:
                    sets.append(f"{column} = ?")
                    args.append(value)
            if bump_attempts:
                sets.append("attempts = attempts + 1")
            if payload:
                sets.append("payload = ?")
                args.append(self._merged_payload(conn, job_id, payload))
            cur = conn.execute(
                f"UPDATE jobs SET {', '.join(sets)} WHERE id = ? AND status = ?",
                (*args, job_id, current.value),
            )
            if cur.rowcount != 1:  # cannot happen under the write lock; guard the invariant anyway
                raise StatusConflict(job_id, current, self._status(conn, job_id))
            self._log(conn, job_id, current, new, now, detail or error)
            return self._get(conn, job_id)

    def update(
        self,
        job_id: str,
        *,
        cycles: int | None = None,
        claim_deadline: float | None = None,
        payload: dict[str, Any] | None = None,
        now: float | None = None,
    ) -> JobRecord:
        """Set facts learned about a job (cycles after preflight, claim deadline, extra payload keys)
        without changing its status; `payload` keys are merged into the stored payload. Called with no
        fields it is a heartbeat: a long proof that touches its job is not `stuck`."""
        now = self._now(now)
        with self._write() as conn:
            self._status(conn, job_id)
            if cycles is not None:
                conn.execute("UPDATE jobs SET cycles = ? WHERE id = ?", (cycles, job_id))
            if claim_deadline is not None:
                conn.execute("UPDATE jobs SET claim_deadline = ? WHERE id = ?", (claim_deadline, job_id))
            if payload:
                merged = self._merged_payload(conn, job_id, payload)
                conn.execute("UPDATE jobs SET payload = ? WHERE id = ?", (merged, job_id))
            conn.execute("UPDATE jobs SET updated_at = ? WHERE id = ?", (now, job_id))
            return self._get(conn, job_id)

    def get(self, job_id: str) -> JobRecord:
        """The job as last recorded; raises JobNotFound."""
        return self._get(self._conn(), job_id)

    def find(self, job_id: str) -> JobRecord | None:
        """The job, or None when it was never added."""
        row = self._conn().execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else JobRecord.from_row(row)

    def jobs(self, statuses: Iterable[JobStatus] | None = None, limit: int = 10_000) -> list[JobRecord]:
        """Jobs in any of `statuses` (all jobs when None), oldest first, at most `limit`."""
        if statuses is None:
            sql, args = f"SELECT {JOB_COLUMNS} FROM jobs", []
        else:
            values = [s.value for s in statuses]
            marks = ", ".join("?" * len(values))
            sql, args = f"SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ({marks})", values
        rows = self._conn().execute(f"{sql} ORDER BY created_at, id LIMIT ?", (*args, limit)).fetchall()
        return [JobRecord.from_row(r) for r in rows]

    def counts(self) -> dict[JobStatus, int]:
        """How many jobs are in each status (every status present, zero when none)."""
        rows = self._conn().execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        found = {JobStatus(s): n for s, n in rows}
        return {s: found.get(s, 0) for s in JobStatus}

    # ---- recovery ----------------------------------------------------------------------------------

    def recoverable(self) -> list[JobRecord]:
        """Jobs with work pending after a restart, those closest to payment first, then soonest to expire."""
        rank = {s: i for i, s in enumerate(_RECOVERY_ORDER)}
        pending = self.jobs(s for s in JobStatus if s not in TERMINAL)
        return sorted(pending, key=lambda j: (rank[j.status], j.expires_at, j.id))

    def stuck(
        self, older_than_s: float, now: float | None = None, statuses: Iterable[JobStatus] = WORKING
    ) -> list[JobRecord]:
        """Jobs in a working status whose last change is older than `older_than_s`: the reaper's list."""
        cutoff = self._now(now) - older_than_s
        values = [s.value for s in statuses]
        marks = ", ".join("?" * len(values))
        rows = (
            self._conn()
            .execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ({marks}) AND updated_at < ? ORDER BY updated_at, id",
                (*values, cutoff),
            )
            .fetchall()
        )
        return [JobRecord.from_row(r) for r in rows]

    def overdue(self, now: float | None = None) -> list[JobRecord]:
        """Jobs with work pending whose expiry has passed: they can only end as EXPIRED (or COMPLETED)."""
        now = self._now(now)
        return [j for j in self.recoverable() if j.expires_at <= now]

    # ---- audit log ---------------------------------------------------------------------------------

    def events(self, job_id: str | None = None, limit: int = 10_000) -> list[JobEvent]:
        """Status changes in the order they happened, for one job or all."""
        sql = "SELECT seq, job_id, from_status, to_status, at, detail FROM job_events"
        args: tuple[Any, ...] = ()
        if job_id is not None:
            sql, args = sql + " WHERE job_id = ?", (job_id,)
        rows = self._conn().execute(sql + " ORDER BY seq LIMIT ?", (*args, limit)).fetchall()
        return [
            JobEvent(seq, jid, None if f is None else JobStatus(f), JobStatus(t), at, detail)
            for seq, jid, f, t, at, detail in rows
        ]

    # ---- cursors -----------------------------------------------------------------------------------

    def get_cursor(self, key: str) -> str | None:
        """A stored cursor (e.g. the last processed block), or None when never set."""
        row = self._conn().execute("SELECT value FROM cursors WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_cursor(self, key: str, value: str, now: float | None = None) -> None:
        """Store a cursor, replacing any previous value."""
        now = self._now(now)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO cursors (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, value, now),
            )

    def advance_cursor(self, key: str, value: int, now: float | None = None) -> int:
        """Raise an integer cursor to `value` if that is higher; return the stored value. Never moves back,
        so events handled out of order cannot rewind the last processed block."""
        now = self._now(now)
        with self._write() as conn:
            row = conn.execute("SELECT value FROM cursors WHERE key = ?", (key,)).fetchone()
            current = None if row is None else int(row[0])
            if current is not None and current >= value:
                return current
            conn.execute(
                "INSERT INTO cursors (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, str(value), now),
            )
            return value

    # ---- proofs ------------------------------------------------------------------------------------

    def put_proof(self, job_id: str, receipt: bytes, now: float | None = None) -> None:
        """Store a finished receipt for a job; storing the same bytes again is a no-op, other bytes raise."""
        now = self._now(now)
        with self._write() as conn:
            self._status(conn, job_id)
            self._put_proof(conn, job_id, receipt, now)

    def get_proof(self, job_id: str) -> bytes | None:
        """The stored receipt, checked against its digest; None when the job has none."""
        sql = "SELECT receipt, sha256 FROM proofs WHERE job_id = ?"
        row = self._conn().execute(sql, (job_id,)).fetchone()
        if row is None:
            return None
        receipt = bytes(row[0])
        if hashlib.sha256(receipt).hexdigest() != row[1]:
            raise StoreCorrupted(f"stored receipt of job {job_id} does not match its digest; prove it again")
        return receipt

    def unsubmitted_proofs(self) -> list[JobRecord]:
        """Jobs whose proof is stored but not yet accepted on-chain: submit these, never prove them again."""
        sql = (
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE status IN (?, ?) "
            "AND id IN (SELECT job_id FROM proofs) ORDER BY expires_at, id"
        )
        rows = self._conn().execute(sql, (JobStatus.PROVED.value, JobStatus.SUBMITTING.value)).fetchall()
        return [JobRecord.from_row(r) for r in rows]

    # ---- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _status(conn: sqlite3.Connection, job_id: str) -> JobStatus:
        row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return JobStatus(row[0])

    @staticmethod
    def _get(conn: sqlite3.Connection, job_id: str) -> JobRecord:
        row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return JobRecord.from_row(row)

    @staticmethod
    def _merged_payload(conn: sqlite3.Connection, job_id: str, extra: dict[str, Any]) -> str:
        (stored,) = conn.execute("SELECT payload FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return json.dumps({**json.loads(stored), **extra}, sort_keys=True)

    @staticmethod
    def _log(
        conn: sqlite3.Connection,
        job_id: str,
        old: JobStatus | None,
        new: JobStatus,
        now: float,
        detail: str | None,
    ) -> None:
        conn.execute(
            "INSERT INTO job_events (job_id, from_status, to_status, at, detail) VALUES (?, ?, ?, ?, ?)",
            (job_id, None if old is None else old.value, new.value, now, detail),
        )

    @staticmethod
    def _put_proof(conn: sqlite3.Connection, job_id: str, receipt: bytes, now: float) -> None:
        digest = hashlib.sha256(receipt).hexdigest()
        row = conn.execute("SELECT sha256 FROM proofs WHERE job_id = ?", (job_id,)).fetchone()
        if row is not None:
            if row[0] != digest:
                raise ProofConflict(
                    f"job {job_id} already has a different receipt stored (sha256 {row[0][:16]}…); "
                    "stored proofs are never replaced"
                )
            return
        conn.execute(
            "INSERT INTO proofs (job_id, receipt, sha256, created_at) VALUES (?, ?, ?, ?)",
            (job_id, receipt, digest, now),
        )
