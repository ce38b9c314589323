"""The fetch backoff and the recent-task cache, with invented clocks."""

from __future__ import annotations

import random

from zkray.orchestrator.backoff import FetchBackoff
from zkray.orchestrator.dedup import RecentTasks


def backoff(max_404s: int = 3) -> FetchBackoff:
    return FetchBackoff(1.0, 8.0, jitter=0.0, max_404s=max_404s, max_retry_after_s=100.0, rng=random.Random(0))


def test_failures_double_up_to_the_cap_and_tasks_reset():
    b = backoff(max_404s=100)
    assert [b.on_error() for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert b.on_tasks() == 0.0
    assert b.on_no_tasks() == 1.0


def test_retry_after_is_a_minimum_bounded_by_the_sanity_cap():
    b = backoff()
    assert b.on_rate_limited(30.0) == 30.0
    assert b.on_rate_limited(0.5) == 2.0
    assert b.on_rate_limited(10_000.0) == 100.0


def test_gives_up_after_consecutive_404s_only():
    b = backoff(max_404s=2)
    b.on_no_tasks()
    b.on_tasks()
    b.on_no_tasks()
    assert not b.exhausted
    b.on_no_tasks()
    assert b.exhausted


def test_jitter_stays_within_bounds():
    b = FetchBackoff(1.0, 8.0, jitter=0.2, max_404s=3, max_retry_after_s=100.0, rng=random.Random(1))
    for expected in (1.0, 2.0, 4.0):
        assert expected * 0.8 <= b.on_error() <= expected * 1.2


def test_recent_tasks_expire_after_ttl_and_respect_capacity():
    recent = RecentTasks(capacity=2, ttl_s=10.0)
    assert not recent.check_and_add("a", 0.0)
    assert recent.check_and_add("a", 5.0)
    assert not recent.check_and_add("a", 10.0)  # expired, seen afresh
    assert not recent.check_and_add("b", 11.0)
    assert not recent.check_and_add("c", 12.0)  # evicts "a", the oldest
    assert len(recent) == 2 and "a" not in recent
