"""The bounded priority queue: evicts the worst (never the best), de-duplicates, matches a naive model."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkray.policy.queue import BoundedPriorityQueue, PushOutcome


def test_a_full_queue_evicts_the_worst_job_not_the_best() -> None:
    queue: BoundedPriorityQueue[str] = BoundedPriorityQueue(capacity=3)
    for job_id, score in [("low", 1.0), ("high", 9.0), ("mid", 5.0)]:
        queue.push(job_id, job_id, score)
    result = queue.push("new", "new", 7.0)
    assert result.outcome is PushOutcome.ADDED
    assert result.evicted is not None and result.evicted.job_id == "low"
    assert [e.job_id for e in queue] == ["high", "new", "mid"]
    assert queue.pop().job_id == "high"  # type: ignore[union-attr]


def test_a_newcomer_that_would_be_worst_is_rejected() -> None:
    queue: BoundedPriorityQueue[None] = BoundedPriorityQueue(capacity=2)
    queue.push("a", None, 5.0)
    queue.push("b", None, 3.0)
    assert queue.push("c", None, 1.0).outcome is PushOutcome.REJECTED
    assert queue.push("tie", None, 3.0).outcome is PushOutcome.REJECTED  # ties keep the earlier job
    assert set(queue._entries) == {"a", "b"}


def test_duplicates_change_nothing() -> None:
    queue: BoundedPriorityQueue[int] = BoundedPriorityQueue(capacity=2)
    queue.push("a", 1, 1.0)
    assert queue.push("a", 2, 100.0).outcome is PushOutcome.DUPLICATE
    assert queue.peek_best().item == 1  # type: ignore[union-attr]


def test_rescore_reorders_and_drain_removes_expired() -> None:
    queue: BoundedPriorityQueue[float] = BoundedPriorityQueue(capacity=5)
    for job_id, expiry in [("soon", 10.0), ("late", 100.0), ("gone", -1.0)]:
        queue.push(job_id, expiry, 1.0)
    queue.rescore(lambda expiry: -math.inf if expiry < 0 else 1 / expiry)
    assert [e.job_id for e in queue] == ["soon", "late", "gone"]
    assert [e.job_id for e in queue.drain_below(-1e300)] == ["gone"]
    assert queue.remove("late") is not None and queue.remove("late") is None
    assert len(queue) == 1 and "soon" in queue


def test_nan_scores_are_refused() -> None:
    queue: BoundedPriorityQueue[None] = BoundedPriorityQueue(capacity=2)
    with pytest.raises(ValueError, match="NaN"):
        queue.push("a", None, math.nan)


class NaiveQueue:
    """A sorted list re-sorted on every operation: slow and obviously right."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.jobs: list[tuple[float, int, str]] = []  # (-score, arrival, id)
        self.arrivals = 0

    def push(self, job_id: str, score: float) -> tuple[PushOutcome, str | None]:
        if any(j == job_id for _, _, j in self.jobs):
            return PushOutcome.DUPLICATE, None
        new = (-score, self.arrivals, job_id)
        self.arrivals += 1
        if len(self.jobs) < self.capacity:
            self.jobs = sorted([*self.jobs, new])
            return PushOutcome.ADDED, None
        worst = max(self.jobs)
        if new > worst:
            return PushOutcome.REJECTED, None
        self.jobs = sorted([j for j in self.jobs if j != worst] + [new])
        return PushOutcome.ADDED, worst[2]

    def pop(self) -> str | None:
        if not self.jobs:
            return None
        best = min(self.jobs)
        self.jobs.remove(best)
        return best[2]


ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(0, 30), st.integers(-5, 5)),
        st.tuples(st.just("pop"), st.just(0), st.just(0)),
        st.tuples(st.just("remove"), st.integers(0, 30), st.just(0)),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6), ops)
def test_matches_the_naive_model(capacity: int, steps: list[tuple[str, int, int]]) -> None:
    queue: BoundedPriorityQueue[int] = BoundedPriorityQueue(capacity)
    model = NaiveQueue(capacity)
    for op, n, score in steps:
        job_id = f"j{n}"
        if op == "push":
            result = queue.push(job_id, n, float(score))
            outcome, evicted = model.push(job_id, float(score))
            assert result.outcome is outcome
            assert (result.evicted.job_id if result.evicted else None) == evicted
        elif op == "pop":
            popped = queue.pop()
            assert (popped.job_id if popped else None) == model.pop()
        else:
            removed = queue.remove(job_id)
            in_model = [j for j in model.jobs if j[2] == job_id]
            assert (removed is not None) == bool(in_model)
            model.jobs = [j for j in model.jobs if j[2] != job_id]
        assert [e.job_id for e in queue] == [j for _, _, j in model.jobs]
        assert len(queue) <= capacity
