"""The journal's tables and how a connection to them is opened.

WAL lets readers run beside one writer; `synchronous=FULL` because a finished proof that is lost
on power failure is paid work thrown away; `busy_timeout` makes concurrent writers wait, not fail.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from zkray.store.errors import StoreCorrupted

SCHEMA_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS jobs (
    id              TEXT PRIMARY KEY,
    source          TEXT NOT NULL,
    status          TEXT NOT NULL,
    image_id        TEXT NOT NULL,
    input_url       TEXT NOT NULL,
    input_digest    TEXT NOT NULL,
    tip_wei         TEXT NOT NULL,          -- decimal text: wei amounts overflow SQLite's int64
    expires_at      REAL NOT NULL,
    claim_deadline  REAL,
    cycles          INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    payload         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, updated_at);

CREATE TABLE IF NOT EXISTS job_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id       TEXT NOT NULL REFERENCES jobs (id),
    from_status  TEXT,                      -- NULL for the event that created the job
    to_status    TEXT NOT NULL,
    at           REAL NOT NULL,
    detail       TEXT
);
CREATE INDEX IF NOT EXISTS job_events_by_job ON job_events (job_id, seq);

CREATE TABLE IF NOT EXISTS cursors (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS proofs (
    job_id      TEXT PRIMARY KEY REFERENCES jobs (id),
    receipt     BLOB NOT NULL,
    sha256      TEXT NOT NULL,
    created_at  REAL NOT NULL
);
"""


def connect(path: Path, timeout_s: float = 30.0) -> sqlite3.Connection:
    """Open one connection in autocommit mode; callers bracket writes with BEGIN IMMEDIATE."""
    conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Create the tables on a fresh file; refuse a file written by a newer, unknown schema."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreCorrupted(
            f"journal schema version {version} is newer than this zkray understands ({SCHEMA_VERSION}); "
            "upgrade zkray or point it at another journal file"
        )
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _DDL.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
