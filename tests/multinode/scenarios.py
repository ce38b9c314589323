"""Run a multi-node scenario once per module, in its own process, and hand its JSON report to the tests.

A `ray.cluster_utils.Cluster` needs a Ray of its own, and the rest of the suite shares one Ray per pytest
session, so every scenario is a subprocess with a bounded timeout; its last stdout line is the report.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@cache
def scenario(name: str, timeout_s: float = 270.0) -> dict[str, Any]:
    """The report of `scenario_<name>.py` (each phase: ok, its facts, or the traceback it failed with).
    Bounded below pytest's 300 s per-test limit, so a stuck scenario fails here with its own output."""
    env = {**os.environ, "RAY_DEDUP_LOGS": "0"}
    env.pop("RAY_ADDRESS", None)  # the scenario starts its own cluster
    # its own session, so that on a timeout the scenario and the Ray processes it started end together
    proc = subprocess.Popen(
        [sys.executable, str(HERE / f"scenario_{name}.py")], cwd=HERE, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
    with contextlib.suppress(ProcessLookupError):  # anything of that session still running
        os.killpg(proc.pid, signal.SIGKILL)
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"scenario {name} printed no report (rc {proc.returncode}):\n{stderr[-4000:]}"
    report: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return report


def phase(name: str, phase_name: str) -> dict[str, Any]:
    """One phase of a scenario's report; fails with the phase's own traceback if it raised."""
    facts = scenario(name)[phase_name]
    assert facts["ok"], f"{name}/{phase_name} raised:\n{facts['error']}"
    return facts
