"""Node and actor loss on a multi-node Cluster (`scenario_nodes.py`): the program cache's node removed,
the scheduler actor killed, a node added mid-run."""

from __future__ import annotations

import pytest
from scenarios import phase

pytestmark = pytest.mark.cluster


def test_the_program_cache_node_removed_the_cache_is_rebuilt_and_jobs_continue() -> None:
    facts = phase("nodes", "cache_node_lost")
    assert facts["all_done"] and set(facts["statuses"].values()) == {"completed"}
    assert facts["stats_before"]["spills"] >= 1  # a program was on the disk tier before the loss
    assert facts["restarts"] == 1  # the dead cache actor was replaced once, with the same disk tier
    served = facts["tiers_after_loss"]
    assert served and set(served) <= {"memory", "disk", "origin"} and "disk" in served
    # jobs whose program ref died with the cache were proved again with a re-fetched program, once each
    assert any(outcomes[0] is False for outcomes in facts["outcomes"].values())
    for job, outcomes in facts["outcomes"].items():
        assert outcomes[-1] is True and outcomes.count(True) == 1, job
        assert facts["submissions"][job] == 1, job
    ends = [t for t in facts["traces"] if t["event"] == "end"]
    assert sorted(t["job"] for t in ends) == sorted(facts["statuses"])  # one finished proof per job
    assert {t["program"] for t in ends} <= set(facts["images"])  # the program bytes reached the task intact


def test_the_scheduler_actor_killed_restarts_with_its_state_from_the_journal() -> None:
    facts = phase("nodes", "scheduler_killed")
    assert facts["pid_after"] != facts["pid_before"]  # a new process: Ray restarted the actor
    assert facts["counts_after"] == facts["counts_before"]
    assert facts["counts_after"]["queued"] == 3 and facts["counts_after"]["proving"] == 1
    assert facts["recoverable"][0] == "sk-0"  # the claimed job is resumed first
    assert facts["duplicate"] == "duplicate"  # the completed job is not taken again
    assert facts["queued_after_restart"] == ["sk-2", "sk-3", "sk-4"]  # the queue was rebuilt
    assert facts["all_done"]
    assert facts["submissions"] == {f"sk-{i}": 1 for i in range(5)}
    assert facts["proofs"] == {f"sk-{i}": 1 for i in range(5)}  # sk-0 was not proved again


def test_a_node_added_mid_run_receives_work() -> None:
    facts = phase("nodes", "node_added")
    assert facts["all_done"] and len(facts["submissions"]) == 10 and set(facts["submissions"].values()) == {1}
    assert facts["in_flight_before"] == 1 and facts["in_flight_after"] == 2  # the pool saw the new slot
    assert any(run["node"] == facts["added"] for run in facts["ran"])
