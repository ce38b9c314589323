"""Backoff delays, jitter bounds, deadlines, and which errors are retried."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkray.policy.retry import (
    DEFAULT_RETRY,
    SUBMISSION_RETRY,
    ErrorKind,
    Retrier,
    RetryPolicy,
    classify,
)


class HttpError(Exception):
    def __init__(self, status: int, retry_after_s: float | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after_s = retry_after_s


class Declared(Exception):
    retryable = True


def test_defaults_follow_the_brief() -> None:
    d, s = DEFAULT_RETRY, SUBMISSION_RETRY
    assert (d.max_attempts, d.initial_delay_s, d.max_delay_s, d.multiplier, d.jitter) == (3, 0.1, 30, 2, 0.2)
    assert (s.max_attempts, s.initial_delay_s, s.max_delay_s) == (10, 1.0, 60.0)


def test_delays_double_up_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(max_attempts=20, jitter=0.0)
    delays = [policy.delay(n, random.Random(0)) for n in range(1, 12)]
    assert delays[:4] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert delays[-1] == 30.0


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=2**32))
def test_jitter_stays_within_twenty_percent_and_under_the_cap(failures: int, seed: int) -> None:
    base = min(0.1 * 2 ** (failures - 1), 30.0)
    delay = DEFAULT_RETRY.delay(failures, random.Random(seed))
    assert base * 0.8 - 1e-12 <= delay <= min(base * 1.2, 30.0) + 1e-12


def test_the_same_seed_gives_the_same_delays() -> None:
    a = [SUBMISSION_RETRY.delay(n, random.Random(7)) for n in range(1, 10)]
    b = [SUBMISSION_RETRY.delay(n, random.Random(7)) for n in range(1, 10)]
    assert a == b


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TimeoutError(), ErrorKind.RETRYABLE),
        (ConnectionResetError(), ErrorKind.RETRYABLE),
        (HttpError(503), ErrorKind.RETRYABLE),
        (HttpError(429), ErrorKind.RATE_LIMITED),
        (HttpError(404), ErrorKind.PERMANENT),
        (ValueError("execution reverted: ClaimExpired"), ErrorKind.PERMANENT),
        (ValueError({"code": -32000, "message": "replacement transaction underpriced"}), ErrorKind.RETRYABLE),
        (ValueError({"code": 3, "message": "execution reverted"}), ErrorKind.PERMANENT),
        # errors of the program itself are permanent, even when their text sounds transient
        (ImportError("No module named 'zkray.zkvm.missing'"), ErrorKind.PERMANENT),
        (ModuleNotFoundError("connection module timed out"), ErrorKind.PERMANENT),
        (TypeError("prove() got an unexpected keyword argument 'timeout'"), ErrorKind.PERMANENT),
        (AttributeError("'NoneType' object has no attribute 'connection'"), ErrorKind.PERMANENT),
        (ValueError("timeout must be positive"), ErrorKind.PERMANENT),
        (ZeroDivisionError(), ErrorKind.PERMANENT),
        (NotImplementedError("temporarily unavailable"), ErrorKind.PERMANENT),
        (RuntimeError("Too Many Requests"), ErrorKind.RATE_LIMITED),
        (Declared("custom"), ErrorKind.RETRYABLE),
        (KeyError("bug"), ErrorKind.PERMANENT),
    ],
)
def test_classification(error: BaseException, kind: ErrorKind) -> None:
    assert classify(error) is kind


def test_retrier_gives_up_after_max_attempts() -> None:
    retrier = Retrier(DEFAULT_RETRY, random.Random(1))
    first = retrier.on_failure(TimeoutError(), now=100.0)
    second = retrier.on_failure(TimeoutError(), now=first.at)
    third = retrier.on_failure(TimeoutError(), now=second.at)
    assert first.retry and second.retry and not third.retry
    assert 100.08 <= first.at <= 100.12
    assert "after 3 attempts" in third.reason


def test_permanent_errors_are_not_retried() -> None:
    decision = Retrier(SUBMISSION_RETRY, random.Random(1)).on_failure(HttpError(400), now=0.0)
    assert not decision.retry and decision.kind is ErrorKind.PERMANENT
    decision = Retrier(DEFAULT_RETRY, random.Random(1)).on_failure(ImportError("timed out importing"), now=0.0)
    assert not decision.retry and decision.attempts == 1  # one attempt, not three


def test_an_error_that_declares_itself_wins_over_its_type() -> None:
    class Flaky(ValueError):
        retryable = True

    assert classify(Flaky("bad value, but the service says try again")) is ErrorKind.RETRYABLE


def test_rate_limits_back_off_harder_and_honour_retry_after() -> None:
    plain = Retrier(RetryPolicy(jitter=0.0), random.Random(1)).on_failure(HttpError(503), now=0.0)
    limited = Retrier(RetryPolicy(jitter=0.0), random.Random(1)).on_failure(HttpError(429), now=0.0)
    hinted = Retrier(RetryPolicy(jitter=0.0), random.Random(1)).on_failure(HttpError(429, 12.0), now=0.0)
    assert limited.at == pytest.approx(plain.at * 4)
    assert hinted.at == 12.0


def test_no_retry_is_scheduled_past_the_deadline() -> None:
    retrier = Retrier(SUBMISSION_RETRY, random.Random(1), give_up_at=100.5)
    decision = retrier.on_failure(TimeoutError(), now=100.0)
    assert not decision.retry and "deadline" in decision.reason


def test_nonsense_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=1.5)
