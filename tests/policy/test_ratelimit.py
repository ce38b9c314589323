"""Token bucket and sliding window, against invented clocks and a brute-force model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkray.policy.ratelimit import SlidingWindow, TokenBucket


def test_bucket_allows_a_burst_of_twenty_then_ten_per_second() -> None:
    bucket = TokenBucket()
    assert sum(bucket.try_acquire(0.0) for _ in range(30)) == 20
    assert not bucket.try_acquire(0.0)
    assert bucket.wait_time(0.0) == pytest.approx(0.1)
    assert sum(bucket.try_acquire(1.0) for _ in range(30)) == 10


def test_bucket_never_holds_more_than_burst() -> None:
    bucket = TokenBucket(rate=10, burst=20)
    assert bucket.tokens(1000.0) == 20


def test_pause_refuses_everyone_until_it_ends() -> None:
    bucket = TokenBucket()
    bucket.pause_until(5.0)
    assert not bucket.try_acquire(4.9)
    assert bucket.wait_time(4.0) == pytest.approx(1.0)
    assert bucket.try_acquire(5.0)


def test_bucket_refuses_requests_larger_than_burst() -> None:
    with pytest.raises(ValueError, match="raise burst"):
        TokenBucket(burst=2).try_acquire(0.0, n=3)


@given(st.lists(st.floats(min_value=0, max_value=0.5), max_size=200))
def test_bucket_admits_no_more_than_burst_plus_rate_times_elapsed(gaps: list[float]) -> None:
    bucket = TokenBucket(rate=10, burst=20)
    now, admitted = 0.0, 0
    for gap in gaps:
        now += gap
        admitted += bucket.try_acquire(now)
        assert admitted <= 20 + 10 * now + 1e-9


def test_sliding_window_is_exact() -> None:
    window = SlidingWindow(limit=3, window_s=10.0)
    assert [window.try_acquire(t) for t in (0.0, 1.0, 2.0, 9.9)] == [True, True, True, False]
    assert window.wait_time(9.9) == pytest.approx(0.1)
    assert window.try_acquire(10.0)
    assert window.count(10.0) == 3


@given(st.lists(st.floats(min_value=0, max_value=3), max_size=100))
def test_sliding_window_matches_a_brute_force_count(gaps: list[float]) -> None:
    window = SlidingWindow(limit=4, window_s=5.0)
    accepted: list[float] = []
    now = 0.0
    for gap in gaps:
        now += gap
        expected = sum(1 for t in accepted if now - t < 5.0) < 4
        assert window.try_acquire(now) is expected
        if expected:
            accepted.append(now)
