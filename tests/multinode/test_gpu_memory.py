"""GPU memory per segment on a Cluster with fake GPU nodes of 8 and 24 GiB (`scenario_gpu_memory.py`):
a GPU task is never placed on a GPU with less memory than its segment needs."""

from __future__ import annotations

import pytest
from scenarios import phase

pytestmark = pytest.mark.cluster


def test_tasks_needing_16_gib_run_only_on_the_24_gib_gpu() -> None:
    facts = phase("gpu_memory", "fits_big_only")
    assert facts["runnable"] == ["gpu"]
    assert facts["gpus_seen"] == [0.0, 0.0, 0.0, 1.0]  # head, small GPU hidden, CPU node; the big GPU
    assert facts["proved"] == [f"fit-{i}" for i in range(4)]
    assert len(facts["ran"]) == 4
    for run in facts["ran"]:
        assert run["node"] == facts["big"] and run["gpus"] == ["0"] and run["backend"] == "gpu"


def test_a_preference_for_the_small_gpu_does_not_put_the_task_there() -> None:
    facts = phase("gpu_memory", "preferred_small")
    assert [r["node"] for r in facts["ran"]] == [facts["big"]]


def test_a_segment_no_gpu_can_hold_runs_on_cpu() -> None:
    facts = phase("gpu_memory", "too_big")
    assert facts["runnable"] == ["cpu"]
    assert facts["proved"] == ["big-0", "big-1"]
    assert all(backends == ["cpu"] for backends in facts["backends"].values())
    # CPU tasks may use any node's CPUs, GPU nodes' included, but no task was given a GPU
    assert len(facts["ran"]) == 2 and all(r["backend"] == "cpu" and r["gpus"] == [] for r in facts["ran"])
