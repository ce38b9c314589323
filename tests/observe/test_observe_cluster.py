"""Ray nodes for the dashboard, from a real local Ray: resources always, running prove tasks where Ray's
dashboard (state API) is present, and never a failed status where it is not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from zkray.observe import ray_nodes


def test_resources_and_assignments_from_the_session_ray(ray_session):
    ray = ray_session
    nodes = ray_nodes(timeout_s=1.0)  # the session's Ray has no dashboard: no state API, still an answer
    alive = [n for n in ray.nodes() if n["Alive"]]
    assert {n.node_id for n in nodes} == {n["NodeID"] for n in alive}
    assert sum(n.cpus for n in nodes) == ray.cluster_resources()["CPU"] > 0
    assert all(n.proving == [] for n in nodes)
    node_id = nodes[0].node_id
    assigned = ray_nodes(assignments={"job-b": node_id, "job-a": node_id})
    assert next(n for n in assigned if n.node_id == node_id).proving == ["job-a", "job-b"]


SCRIPT = textwrap.dedent("""
    import json, time, ray
    ray.init(address="local", num_cpus=2, include_dashboard=True, log_to_driver=False, configure_logging=False,
             object_store_memory=256 * 1024 * 1024)
    from zkray.observe import ray_nodes

    @ray.remote
    def prove(seconds):
        time.sleep(seconds)

    ref = prove.options(name="prove:job-42:1:cpu").remote(120)
    seen = []
    for _ in range(120):  # bounded: the task shows as RUNNING within a few polls
        seen = ray_nodes(timeout_s=2.0)
        if seen and seen[0].proving:
            break
        time.sleep(0.5)
    ray.cancel(ref, force=True)
    print("RESULT " + json.dumps([n.model_dump() for n in seen]))
    ray.shutdown()
""")


def test_running_prove_tasks_come_from_the_state_api(tmp_path):
    """Its own Ray (with a dashboard) in a child process: one process cannot hold two Ray instances."""
    env = {**os.environ, "RAY_DEDUP_LOGS": "0"}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=240, env=env,
                          cwd=tmp_path)  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    nodes = json.loads(lines[0].removeprefix("RESULT "))
    assert len(nodes) == 1 and nodes[0]["cpus"] == 2 and nodes[0]["proving"] == ["job-42"]
