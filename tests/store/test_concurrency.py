"""Concurrent writers on one journal file: threads sharing a JobJournal, and two JobJournals."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from zkray.policy.jobs import JobStatus
from zkray.store import JobJournal, StatusConflict

S = JobStatus
JOBS = 40
THREADS = 6


def add(journal: JobJournal, job_id: str) -> bool:
    return journal.add_job(
        job_id, source="chain", image_id="i", input_url="u", input_digest="d", tip_wei=10, expires_at=9e9
    )


def run_threads(target, count: int = THREADS) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)


def test_each_job_is_taken_by_exactly_one_of_many_racing_workers(tmp_path: Path) -> None:
    journal = JobJournal(tmp_path / "jobs.sqlite3")
    for i in range(JOBS):
        add(journal, f"j{i}")
        journal.transition(f"j{i}", S.QUEUED)
    wins: Counter[int] = Counter()
    conflicts: Counter[int] = Counter()
    errors: list[BaseException] = []

    def worker(me: int) -> None:
        try:
            for i in range(JOBS):
                try:
                    journal.transition(f"j{i}", S.FETCHING, expected=S.QUEUED, detail=f"worker {me}")
                    wins[me] += 1
                except StatusConflict:
                    conflicts[me] += 1
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    run_threads(worker)
    assert errors == []
    assert sum(wins.values()) == JOBS
    assert sum(conflicts.values()) == JOBS * (THREADS - 1)
    for i in range(JOBS):
        moves = [e for e in journal.events(f"j{i}") if e.to_status is S.FETCHING]
        assert len(moves) == 1
    journal.close()


def test_duplicate_adds_from_two_journals_on_one_file_keep_one_job(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    first, second = JobJournal(path), JobJournal(path)
    added: list[bool] = []
    lock = threading.Lock()

    def adder(me: int) -> None:
        journal = first if me % 2 else second
        for i in range(JOBS):
            result = add(journal, f"j{i}")
            with lock:
                added.append(result)

    run_threads(adder, count=4)
    assert added.count(True) == JOBS
    assert len(first.jobs()) == JOBS
    assert all(len(first.events(f"j{i}")) == 1 for i in range(JOBS))
    first.close()
    second.close()


def test_writers_and_cursor_advances_interleave_without_losing_updates(tmp_path: Path) -> None:
    journal = JobJournal(tmp_path / "jobs.sqlite3")

    def writer(me: int) -> None:
        for block in range(me, 200, THREADS):
            journal.advance_cursor("block", block)
            add(journal, f"w{me}-{block}")

    run_threads(writer)
    assert journal.get_cursor("block") == "199"
    assert len(journal.jobs()) == 200
    journal.close()
