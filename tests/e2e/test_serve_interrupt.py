"""Ctrl-C on `python -m zkray.serve`: admission stops, in-flight jobs are finished (paid), and it exits 0,
leaving no claimed or proved job behind in the journal."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from zkray.policy.jobs import HOLDS_CLAIM, WORKING, JobStatus
from zkray.store import JobJournal


def test_ctrl_c_drains_in_flight_work_and_exits_cleanly(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "zkray.serve", "--interval", "0.3", "--data-dir", str(tmp_path / "d")]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        end = time.monotonic() + 180
        for line in proc.stdout:  # one progress line every 5 s off a terminal
            found = re.search(r"completed=(\d+)", line)
            if (found and int(found.group(1)) >= 2) or time.monotonic() > end:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    assert "draining" in err and "paid=" in out
    journal = JobJournal(tmp_path / "d" / "node.sqlite")
    left = [j for j in journal.jobs() if j.status in HOLDS_CLAIM | WORKING]
    assert not left, [(j.id, j.status) for j in left]
    assert journal.counts()[JobStatus.COMPLETED] >= 2
