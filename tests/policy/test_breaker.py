"""The circuit breaker's state machine, driven by an invented clock."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkray.policy.breaker import BreakerState, CircuitBreaker


def open_breaker(now: float = 0.0) -> CircuitBreaker:
    breaker = CircuitBreaker("rpc")
    for i in range(5):
        breaker.record_failure(now + i)
    return breaker


def test_defaults_follow_the_brief() -> None:
    breaker = CircuitBreaker("rpc")
    assert (breaker.failure_threshold, breaker.window_s, breaker.open_s, breaker.half_open_probes) == (
        5,
        60.0,
        30.0,
        3,
    )
    assert breaker.state is BreakerState.CLOSED


def test_opens_after_five_failures_within_the_window() -> None:
    breaker = CircuitBreaker("rpc")
    for i in range(4):
        breaker.record_failure(float(i))
        assert breaker.state is BreakerState.CLOSED
    breaker.record_failure(4.0)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(5.0)
    assert breaker.retry_at() == 34.0


def test_failures_older_than_the_window_do_not_count() -> None:
    breaker = CircuitBreaker("rpc")
    for t in (0.0, 20.0, 40.0, 59.0):
        breaker.record_failure(t)
    breaker.record_failure(61.0)  # the failure at 0 has left the window
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures_in_window(61.0) == 4


def test_half_open_after_the_open_period_admits_three_probes() -> None:
    breaker = open_breaker()
    assert not breaker.allow(33.9)
    assert breaker.state_at(34.0) is BreakerState.HALF_OPEN
    assert [breaker.allow(34.0) for _ in range(4)] == [True, True, True, False]
    assert breaker.state is BreakerState.HALF_OPEN


def test_probes_that_never_report_back_do_not_wedge_it_half_open() -> None:
    breaker = open_breaker()
    assert [breaker.allow(40.0) for _ in range(4)] == [True, True, True, False]
    assert not breaker.allow(69.9)
    assert breaker.allow(70.0)  # a fresh round after open_s without answers
    assert breaker.state is BreakerState.HALF_OPEN


def test_three_successful_probes_close_it() -> None:
    breaker = open_breaker()
    for _ in range(3):
        assert breaker.allow(40.0)
    breaker.record_success(41.0)
    breaker.record_success(41.0)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record_success(41.0)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures_in_window(41.0) == 0
    assert breaker.allow(41.0)


def test_a_failed_probe_reopens_for_a_fresh_period() -> None:
    breaker = open_breaker()
    assert breaker.allow(40.0)
    breaker.record_failure(41.0)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(70.0)
    assert breaker.allow(71.0)


def test_late_failures_while_open_do_not_extend_the_open_period() -> None:
    breaker = open_breaker()
    breaker.record_failure(20.0)
    assert breaker.allow(34.0)


def test_snapshot_is_json_and_restores_the_same_behaviour() -> None:
    breaker = open_breaker()
    breaker.allow(40.0)
    data = json.loads(json.dumps(breaker.snapshot()))
    twin = CircuitBreaker.restore(data)
    assert twin.state is BreakerState.HALF_OPEN
    assert [twin.allow(40.0) for _ in range(3)] == [breaker.allow(40.0) for _ in range(3)]


def test_rejects_nonsense_configuration() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CircuitBreaker("x", failure_threshold=0)
    with pytest.raises(ValueError, match="positive"):
        CircuitBreaker("x", window_s=0)


events = st.lists(
    st.tuples(st.sampled_from(["allow", "ok", "fail"]), st.floats(min_value=0, max_value=20)),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(events)
def test_never_admits_calls_while_open_and_round_trips_at_every_step(steps) -> None:
    breaker = CircuitBreaker("svc", failure_threshold=3, window_s=30, open_s=10, half_open_probes=2)
    now = 0.0
    for op, dt in steps:
        now += dt
        before = breaker.state_at(now)
        if op == "allow":
            allowed = breaker.allow(now)
            if before is BreakerState.OPEN:
                assert not allowed
            if before is BreakerState.CLOSED:
                assert allowed
        elif op == "ok":
            breaker.record_success(now)
        else:
            breaker.record_failure(now)
        assert breaker.snapshot()["probes_started"] <= 2
        assert breaker.failures_in_window(now) < 3
        assert CircuitBreaker.restore(breaker.snapshot()).snapshot() == breaker.snapshot()
