"""Kill a writer process mid-flight with SIGKILL, reopen the file, and find everything committed intact."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from zkray.policy.jobs import ALLOWED, HOLDS_PROOF, JobStatus
from zkray.store import JobJournal

WRITER = Path(__file__).with_name("_crash_writer.py")
COMMITS_BEFORE_KILL = 120


def run_writer_until_killed(path: Path) -> dict[str, str]:
    """The last status the child reported as committed for each job."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, str(WRITER), str(path)], stdout=subprocess.PIPE, text=True, env=env)
    reported: dict[str, str] = {}
    deadline = time.monotonic() + 120  # bound the test, whatever the machine's speed
    try:
        assert child.stdout is not None
        for count, line in enumerate(child.stdout, start=1):
            job_id, status = line.split()
            reported[job_id] = status
            if count >= COMMITS_BEFORE_KILL or time.monotonic() > deadline:
                break
        child.send_signal(signal.SIGKILL)  # mid-transaction, most likely
    finally:
        child.kill()
        child.wait(timeout=30)
    return reported


def test_reopen_after_a_crash_keeps_every_committed_change(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    reported = run_writer_until_killed(path)
    assert len(reported) >= 10

    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()

    with JobJournal(path) as journal:
        order = [s.value for s in JobStatus]
        for job_id, last_reported in reported.items():
            job = journal.get(job_id)
            # at least as far along as the child said (it may have committed one more before dying)
            assert order.index(job.status.value) >= order.index(last_reported)
            events = journal.events(job_id)
            assert events[0].from_status is None
            for before, after in itertools.pairwise(events):
                assert after.from_status is before.to_status
                assert after.to_status in ALLOWED[before.to_status]
            assert events[-1].to_status is job.status  # the log and the table agree
            if job.status in HOLDS_PROOF:
                assert journal.get_proof(job_id) == f"receipt-{job_id}".encode() * 50
        assert len(journal.unsubmitted_proofs()) >= 1
        assert int(journal.get_cursor("block") or -1) >= max(int(j[3:]) for j in reported) - 1
        # the recovered journal keeps working: finish every job the crash interrupted
        for job in journal.recoverable():
            if job.status is JobStatus.SUBMITTING:
                journal.transition(job.id, JobStatus.COMPLETED)
            else:
                journal.transition(job.id, JobStatus.FAILED, error="abandoned after crash")
        assert journal.recoverable() == []
