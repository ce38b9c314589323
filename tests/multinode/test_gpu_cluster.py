"""GPU placement and GPU node loss on a multi-node Cluster with fake GPU nodes (`scenario_gpu.py`)."""

from __future__ import annotations

from typing import Any

import pytest
from scenarios import phase

pytestmark = pytest.mark.cluster


def _ends(traces: list[dict[str, Any]], job: str) -> list[dict[str, Any]]:
    return [t for t in traces if t["job"] == job and t["event"] == "end"]


def test_gpu_tasks_land_only_on_gpu_nodes_and_see_their_gpu() -> None:
    facts = phase("gpu", "placement")
    assert facts["runnable"] == ["gpu"]
    assert facts["proved"] == [f"place-{i}" for i in range(4)]
    assert len(facts["ran"]) == 4
    for run in facts["ran"]:
        assert run["node"] in facts["gpu_nodes"] and run["node"] != facts["cpu_node"]
        assert run["gpus"] == ["0"]  # the task was given the node's one GPU


def test_a_gpu_node_removed_mid_proof_the_job_reruns_elsewhere_and_is_submitted_once() -> None:
    facts = phase("gpu", "gpu_node_lost")
    traces, victim = facts["traces"], facts["victim"]
    assert facts["all_done"] and set(facts["statuses"].values()) == {"completed"}
    # lost-0 started on the removed GPU node, never finished there, and finished on another node
    starts = [t for t in traces if t["job"] == "lost-0" and t["event"] == "start"]
    assert starts[0]["node"] == victim and starts[0]["backend"] == "gpu"
    ends = _ends(traces, "lost-0")
    assert len(ends) == 1 and ends[0]["node"] != victim
    assert facts["attempts"]["lost-0"] == [["gpu", "cpu"]]  # one outcome, after a GPU attempt and a CPU one
    # every job was proved to completion once and submitted exactly once
    for job in facts["statuses"]:
        assert len(_ends(traces, job)) == 1, job
        assert facts["submissions"][job] == 1, job
        assert len(facts["attempts"][job]) == 1, job
    assert victim not in {t["node"] for t in traces if t["event"] == "end"}


def test_all_gpu_nodes_gone_falls_back_to_cpu_and_the_mode_says_so() -> None:
    facts = phase("gpu", "all_gpu_gone")
    assert facts["all_done"]
    assert facts["runnable"] == ["cpu"]
    assert facts["mode"] == "degraded" and "gpu" in facts["reason"]
    assert facts["flags"]["use_gpu"] is False and facts["flags"]["accept_new_jobs"] is True
    traces = facts["traces"]
    first = min((t for t in traces if t["job"] == "gone-0"), key=lambda t: t["t"])
    assert first["node"] == facts["removed"] and first["backend"] == "gpu"  # it was mid-proof on the GPU
    for job in ("gone-0", "gone-1", "gone-2"):
        (end,) = _ends(traces, job)
        assert end["backend"] == "cpu" and end["gpus"] == [] and end["node"] != facts["removed"]
        assert facts["submissions"][job] == 1


def test_with_no_gpu_nodes_prove_tasks_run_on_cpu() -> None:
    facts = phase("gpu", "no_gpu")
    assert facts["runnable"] == ["cpu"]
    assert facts["proved"] == ["cpu-0", "cpu-1", "cpu-2"]
    assert all(backends == ["cpu"] for backends in facts["backends"].values())
    assert len(facts["ran"]) == 3 and all(run["gpus"] == [] for run in facts["ran"])
