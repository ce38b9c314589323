"""Two processes on loopback: `python -m zkray.orchestrator orchestrate` and `... work`, start to finish."""

from __future__ import annotations

import re
import subprocess
import sys

LIMIT_S = 240


def test_an_orchestrator_and_a_worker_process_finish_the_demo_tasks(tmp_path):
    orchestrator = subprocess.Popen(
        [sys.executable, "-m", "zkray.orchestrator", "orchestrate", "--port", "0", "--demo-tasks", "6",
         "--max-batch", "3", "--poll-rate", "100", "--exit-when-done"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert orchestrator.stdout is not None
        first = orchestrator.stdout.readline()
        url = re.search(r"listening on (http://\S+)", first)
        assert url, first
        worker = subprocess.run(
            [sys.executable, "-m", "zkray.orchestrator", "work", url.group(1), "--key-file", str(tmp_path / "key"),
             "--batch-size", "3", "--max-404s", "1", "--backoff-s", "0.05"],
            capture_output=True, text=True, timeout=LIMIT_S,
        )  # fmt: skip
        assert worker.returncode == 0, worker.stderr
        out, _ = orchestrator.communicate(timeout=LIMIT_S)
    finally:
        orchestrator.kill()
        orchestrator.wait()
    assert orchestrator.returncode == 0
    assert "'done': 6" in out and "'accepted': 6" in out, out
    assert "proofs_submitted=6" in worker.stdout
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600
    secret = (tmp_path / "key").read_text().strip()
    assert secret not in worker.stdout + worker.stderr


def test_anonymous_mode_from_the_command_line():
    done = subprocess.run(
        [sys.executable, "-m", "zkray.orchestrator", "anonymous", "--max-proofs", "1", "--interval-s", "0"],
        capture_output=True, text=True, timeout=LIMIT_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 proofs verified" in done.stdout
    assert "fib_input_initial(9, 1, 1) = 55" in done.stderr  # the log line
