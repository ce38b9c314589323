"""Ray nodes for the dashboard, from a real local Ray: resources always, running prove tasks where Ray's
dashboard (state API) is present, and never a failed status where it is not.

Each Ray runs in a child process started with `address="local"`: one process holds one Ray at a time, and
a plain `ray.init()` would join whichever cluster another program left running on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import json, sys, time, ray
    dashboard = sys.argv[1] == "dashboard"
    ray.init(address="local", num_cpus=2, include_dashboard=dashboard, log_to_driver=False,
             configure_logging=False, object_store_memory=256 * 1024 * 1024)
    from zkray.observe import ray_nodes

    @ray.remote
    def prove(seconds):
        time.sleep(seconds)

    ref = prove.options(name="prove:job-42:1:cpu").remote(120)
    out = {}
    if dashboard:
        seen = []
        for _ in range(120):  # bounded: the task shows as RUNNING within a few polls
            seen = ray_nodes(timeout_s=2.0)
            if seen and seen[0].proving:
                break
            time.sleep(0.5)
        out["state_api"] = [n.model_dump() for n in seen]
    else:
        time.sleep(1.0)
        out["no_dashboard"] = [n.model_dump() for n in ray_nodes(timeout_s=1.0)]
        node_id = out["no_dashboard"][0]["node_id"]
        out["assigned"] = [n.model_dump() for n in ray_nodes(assignments={"job-b": node_id, "job-a": node_id})]
    ray.cancel(ref, force=True)
    print("RESULT " + json.dumps(out))
    ray.shutdown()
""")


def run_ray(mode: str, cwd: Path) -> dict:
    env = {**os.environ, "RAY_DEDUP_LOGS": "0"}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=240,
                          env=env, cwd=cwd)  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[0].removeprefix("RESULT "))


def test_without_a_dashboard_nodes_are_listed_and_assignments_used(tmp_path: Path):
    out = run_ray("plain", tmp_path)
    (node,) = out["no_dashboard"]
    assert node["cpus"] == 2 and node["gpus"] == 0 and node["alive"] and node["proving"] == []
    assert out["assigned"][0]["proving"] == ["job-a", "job-b"]


def test_running_prove_tasks_come_from_the_state_api(tmp_path: Path):
    (node,) = run_ray("dashboard", tmp_path)["state_api"]
    assert node["cpus"] == 2 and node["proving"] == ["job-42"]
