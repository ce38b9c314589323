"""The job journal on a real SQLite file: guarded transitions, audit log, cursors, proofs, recovery."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from zkray.policy.errors import InvalidTransition
from zkray.policy.jobs import JobStatus
from zkray.store import (
    JobJournal,
    JobNotFound,
    ProofConflict,
    StatusConflict,
    StoreCorrupted,
    StoreError,
)

S = JobStatus
BIG_TIP = 25 * 10**18  # 25 ETH in wei: beyond SQLite's int64


def add(journal: JobJournal, job_id: str, *, now: float = 0.0, expires_at: float = 3600.0, **kw) -> bool:
    return journal.add_job(
        job_id,
        source="chain",
        image_id="ab" * 32,
        input_url=f"ipfs://{job_id}",
        input_digest="cd" * 32,
        tip_wei=kw.pop("tip_wei", BIG_TIP),
        expires_at=expires_at,
        now=now,
        **kw,
    )


def walk(journal: JobJournal, job_id: str, *statuses: JobStatus, now: float = 1.0) -> None:
    for status in statuses:
        journal.transition(job_id, status, now=now)


@pytest.fixture
def journal(tmp_path: Path):
    with JobJournal(tmp_path / "jobs.sqlite3") as j:
        yield j


def test_the_file_is_in_wal_mode(journal: JobJournal) -> None:
    conn = sqlite3.connect(journal.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_add_is_idempotent_and_keeps_exact_fields(journal: JobJournal) -> None:
    assert add(journal, "j1", payload={"requester": "0xabc"})
    assert not add(journal, "j1", tip_wei=1)  # a duplicate event changes nothing
    job = journal.get("j1")
    assert job.status is S.DISCOVERED
    assert job.tip_wei == BIG_TIP
    assert job.payload == {"requester": "0xabc"}
    assert [(e.from_status, e.to_status) for e in journal.events("j1")] == [(None, S.DISCOVERED)]


def test_transitions_are_guarded_and_logged(journal: JobJournal) -> None:
    add(journal, "j1")
    job = journal.transition("j1", S.QUEUED, now=5.0, detail="score 0.9")
    assert job.status is S.QUEUED and job.updated_at == 5.0
    with pytest.raises(InvalidTransition, match="j1"):
        journal.transition("j1", S.PROVED)
    assert journal.get("j1").status is S.QUEUED
    assert [e.to_status for e in journal.events("j1")] == [S.DISCOVERED, S.QUEUED]
    assert journal.events("j1")[-1].detail == "score 0.9"


def test_compare_and_set_on_the_expected_status(journal: JobJournal) -> None:
    add(journal, "j1")
    journal.transition("j1", S.QUEUED, expected=S.DISCOVERED)
    with pytest.raises(StatusConflict) as err:
        journal.transition("j1", S.FETCHING, expected=S.DISCOVERED)
    assert err.value.actual is S.QUEUED
    with pytest.raises(JobNotFound, match="add_job"):
        journal.transition("nope", S.QUEUED)


def test_fields_set_with_a_transition_and_without(journal: JobJournal) -> None:
    add(journal, "j1")
    walk(journal, "j1", S.QUEUED, S.FETCHING, S.PREFLIGHT)
    journal.update("j1", cycles=1_000_000, payload={"elf_cached": True})
    job = journal.transition("j1", S.CLAIMING, claim_deadline=600.0, bump_attempts=True, payload={"gas": 21000})
    assert (job.cycles, job.claim_deadline, job.attempts) == (1_000_000, 600.0, 1)
    assert job.payload == {"elf_cached": True, "gas": 21000}
    failed = journal.transition("j1", S.FAILED, error="claim reverted: AlreadyClaimed")
    assert failed.error == "claim reverted: AlreadyClaimed"
    assert journal.events("j1")[-1].detail == "claim reverted: AlreadyClaimed"


def test_a_proof_is_stored_with_the_proved_status_or_not_at_all(journal: JobJournal) -> None:
    add(journal, "j1")
    walk(journal, "j1", S.QUEUED, S.FETCHING, S.PREFLIGHT, S.CLAIMING, S.CLAIMED, S.PROVING)
    with pytest.raises(InvalidTransition):
        journal.transition("j1", S.SUBMITTING, proof=b"receipt")
    assert journal.get_proof("j1") is None  # the rejected transition stored nothing
    journal.transition("j1", S.PROVED, proof=b"receipt")
    assert journal.get_proof("j1") == b"receipt"
    journal.put_proof("j1", b"receipt")  # same bytes again: fine
    with pytest.raises(ProofConflict, match="never replaced"):
        journal.put_proof("j1", b"other")
    assert [j.id for j in journal.unsubmitted_proofs()] == ["j1"]
    walk(journal, "j1", S.SUBMITTING, S.COMPLETED)
    assert journal.unsubmitted_proofs() == []
    assert journal.get_proof("j1") == b"receipt"  # kept after completion


def test_a_failed_transition_changes_nothing(journal: JobJournal) -> None:
    add(journal, "j1")
    walk(journal, "j1", S.QUEUED, S.FETCHING, S.PREFLIGHT, S.CLAIMING, S.CLAIMED, S.PROVING)
    journal.put_proof("j1", b"first")
    events_before = journal.events("j1")
    with pytest.raises(ProofConflict):
        journal.transition("j1", S.PROVED, proof=b"second", cycles=5)
    job = journal.get("j1")
    assert job.status is S.PROVING and job.cycles is None
    assert journal.events("j1") == events_before
    assert journal.transition("j1", S.PROVED, proof=b"first").status is S.PROVED  # the connection is usable


def test_a_tampered_proof_is_refused_on_read(journal: JobJournal) -> None:
    add(journal, "j1")
    journal.put_proof("j1", b"receipt")
    conn = sqlite3.connect(journal.path)
    conn.execute("UPDATE proofs SET receipt = ? WHERE job_id = 'j1'", (b"receipX",))
    conn.commit()
    conn.close()
    with pytest.raises(StoreCorrupted, match="prove it again"):
        journal.get_proof("j1")


def test_cursors_store_and_only_advance(journal: JobJournal) -> None:
    assert journal.get_cursor("block") is None
    assert journal.advance_cursor("block", 100) == 100
    assert journal.advance_cursor("block", 90) == 100
    assert journal.advance_cursor("block", 101) == 101
    journal.set_cursor("orchestrator", "task-7")
    assert journal.get_cursor("orchestrator") == "task-7"
    assert journal.get_cursor("block") == "101"


def test_recovery_lists_pending_jobs_closest_to_payment_first(journal: JobJournal) -> None:
    for i, path in enumerate(
        [
            (S.QUEUED,),
            (S.QUEUED, S.FETCHING, S.PREFLIGHT, S.CLAIMING, S.CLAIMED),
            (S.QUEUED, S.FETCHING, S.PREFLIGHT, S.CLAIMING, S.CLAIMED, S.PROVING, S.PROVED),
            (S.SKIPPED,),
            (S.QUEUED, S.CANCELLED),
        ]
    ):
        add(journal, f"j{i}")
        walk(journal, f"j{i}", *path)
    assert [j.id for j in journal.recoverable()] == ["j2", "j1", "j0"]
    counts = journal.counts()
    assert counts[S.SKIPPED] == 1 and counts[S.COMPLETED] == 0 and sum(counts.values()) == 5


def test_stuck_and_overdue_jobs(journal: JobJournal) -> None:
    add(journal, "slow", now=0.0, expires_at=500.0)
    add(journal, "fresh", now=0.0)
    add(journal, "waiting", now=0.0)
    walk(journal, "slow", S.QUEUED, S.FETCHING, now=10.0)
    walk(journal, "fresh", S.QUEUED, S.FETCHING, now=290.0)
    journal.transition("waiting", S.QUEUED, now=10.0)  # queued is not a working status
    assert [j.id for j in journal.stuck(older_than_s=120.0, now=300.0)] == ["slow"]
    journal.update("slow", now=299.0)  # a heartbeat from the running work
    assert journal.stuck(older_than_s=120.0, now=300.0) == []
    assert [j.id for j in journal.overdue(now=600.0)] == ["slow"]


def test_an_injected_clock_stamps_changes(tmp_path: Path) -> None:
    ticks = iter([100.0, 200.0])
    with JobJournal(tmp_path / "j.sqlite3", clock=lambda: next(ticks)) as journal:
        journal.add_job("j1", source="api", image_id="i", input_url="u", input_digest="d", tip_wei=1, expires_at=9e9)
        journal.transition("j1", S.QUEUED)
        job = journal.get("j1")
    assert (job.created_at, job.updated_at) == (100.0, 200.0)


def test_a_journal_from_a_newer_zkray_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    JobJournal(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreCorrupted, match="newer"):
        JobJournal(path)


def test_a_closed_journal_says_so(tmp_path: Path) -> None:
    journal = JobJournal(tmp_path / "j.sqlite3")
    journal.close()
    with pytest.raises(StoreError, match="closed"):
        journal.get_cursor("x")
