"""Retry with exponential backoff and jitter, and which errors are worth retrying at all.

Pure: the policy says whether and when to try again; the caller sleeps. Jitter comes from an injected
`random.Random`, so a test (or a replay) sees the same delays. Defaults from the brief: 3 tries,
100 ms doubling to 30 s, ±20 % jitter; proof submission gets 10 tries, 1 s → 60 s.
"""

from __future__ import annotations

import errno
import random
from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    """How a failure should be treated."""

    RETRYABLE = "retryable"  # transient: network, timeout, 5xx
    RATE_LIMITED = "rate_limited"  # the service asked us to slow down (HTTP 429): back off harder
    PERMANENT = "permanent"  # retrying cannot help: a revert, a bad input, a failed verification


_RETRY_STATUS = frozenset({408, 425, 500, 502, 503, 504})
_TRANSIENT_ERRNO = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
     errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EAGAIN}
)  # fmt: skip
# Lower-case fragments of messages from RPC nodes and HTTP clients that mean "try again later".
_RETRY_TEXT = (
    "timeout",
    "timed out",
    "connection reset",
    "connection refused",
    "temporarily unavailable",
    "service unavailable",
    "bad gateway",
    "header not found",
    "nonce too low",
    "replacement transaction underpriced",
)
_RATE_TEXT = ("too many requests", "rate limit", "rate-limit")
_PERMANENT_TEXT = ("execution reverted", "insufficient funds", "invalid signature")
# Errors of the program itself (a missing module, a wrong call, a bad value): the same code on the same
# input fails the same way, so retrying only burns attempts. Checked before any message text, because a
# message (or a traceback folded into one) may well contain "timeout" or "connection".
_PROGRAM_ERRORS: tuple[type[BaseException], ...] = (
    ImportError, TypeError, AttributeError, NameError, ValueError, LookupError, AssertionError,
    NotImplementedError, ArithmeticError, SyntaxError,
)  # fmt: skip


def classify(error: BaseException) -> ErrorKind:
    """Decide retryable / rate-limited / permanent; unknown errors are permanent so bugs do not loop.

    In order: an error may decide for itself with a `retryable: bool` attribute; HTTP errors are read from
    a `status` or `status_code` attribute (aiohttp, httpx, web3 all use one of the two); errors of the
    program (ImportError, TypeError, AttributeError, ValueError, ...) are permanent whatever they say;
    then known transient types and errnos, then message fragments from RPC nodes and HTTP clients.
    """
    declared = getattr(error, "retryable", None)
    if isinstance(declared, bool):
        return ErrorKind.RETRYABLE if declared else ErrorKind.PERMANENT
    status = getattr(error, "status", None) or getattr(error, "status_code", None)
    if isinstance(status, int):
        if status == 429:
            return ErrorKind.RATE_LIMITED
        return ErrorKind.RETRYABLE if status in _RETRY_STATUS else ErrorKind.PERMANENT
    if isinstance(error, _PROGRAM_ERRORS) and not _is_rpc_error_object(error):
        return ErrorKind.PERMANENT
    text = str(error).lower()
    if any(fragment in text for fragment in _PERMANENT_TEXT):
        return ErrorKind.PERMANENT
    if any(fragment in text for fragment in _RATE_TEXT):
        return ErrorKind.RATE_LIMITED
    if isinstance(error, TimeoutError | ConnectionError):
        return ErrorKind.RETRYABLE
    if isinstance(error, OSError) and error.errno in _TRANSIENT_ERRNO:
        return ErrorKind.RETRYABLE
    if any(fragment in text for fragment in _RETRY_TEXT):
        return ErrorKind.RETRYABLE
    return ErrorKind.PERMANENT


def _is_rpc_error_object(error: BaseException) -> bool:
    """web3 before v7 raised a node's JSON-RPC error as `ValueError({"code": …, "message": …})`: an answer
    from the node (judged by its message below), not an error in our program."""
    return isinstance(error, ValueError) and bool(error.args) and isinstance(error.args[0], dict) and (
        "code" in error.args[0]
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries and how long to wait between them."""

    max_attempts: int = 3
    initial_delay_s: float = 0.1
    max_delay_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2  # ± this fraction of the delay
    rate_limit_factor: float = 4.0  # a 429 waits this many times longer than an ordinary failure

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.initial_delay_s < 0 or self.max_delay_s < self.initial_delay_s:
            raise ValueError("need max_attempts >= 1 and 0 <= initial_delay_s <= max_delay_s")
        if not 0 <= self.jitter < 1 or self.multiplier < 1:
            raise ValueError("need 0 <= jitter < 1 and multiplier >= 1")

    def delay(self, failures: int, rng: random.Random, kind: ErrorKind = ErrorKind.RETRYABLE) -> float:
        """Seconds to wait after the `failures`-th failure (1-based), jittered, never above max_delay_s."""
        base = self.initial_delay_s * self.multiplier ** max(0, failures - 1)
        if kind is ErrorKind.RATE_LIMITED:
            base *= self.rate_limit_factor
        jittered = min(base, self.max_delay_s) * (1 + rng.uniform(-self.jitter, self.jitter))
        return min(jittered, self.max_delay_s)


DEFAULT_RETRY = RetryPolicy()
SUBMISSION_RETRY = RetryPolicy(max_attempts=10, initial_delay_s=1.0, max_delay_s=60.0)


@dataclass(frozen=True)
class RetryDecision:
    """What to do after a failure: retry at `at` (absolute time), or give up and why."""

    retry: bool
    kind: ErrorKind
    attempts: int
    at: float
    reason: str


class Retrier:
    """Counts the attempts of one operation and decides after each failure.

    `give_up_at` is a hard deadline (a claim deadline, a job's expiry): no retry is scheduled past it.
    A `retry_after_s` attribute on the error (from an HTTP Retry-After header) is honoured as a minimum.
    """

    def __init__(self, policy: RetryPolicy, rng: random.Random, give_up_at: float | None = None) -> None:
        self.policy = policy
        self.rng = rng
        self.give_up_at = give_up_at
        self.attempts = 0

    def on_failure(self, error: BaseException, now: float) -> RetryDecision:
        """Record a failed attempt at `now` and decide whether and when to try again."""
        self.attempts += 1
        kind = classify(error)
        if kind is ErrorKind.PERMANENT:
            return RetryDecision(False, kind, self.attempts, now, f"permanent error: {error}")
        if self.attempts >= self.policy.max_attempts:
            return RetryDecision(False, kind, self.attempts, now, f"gave up after {self.attempts} attempts: {error}")
        wait = self.policy.delay(self.attempts, self.rng, kind)
        hint = getattr(error, "retry_after_s", None)
        if isinstance(hint, int | float) and hint > wait:
            wait = float(hint)
        at = now + wait
        if self.give_up_at is not None and at >= self.give_up_at:
            reason = f"the next try would pass the deadline: {error}"
            return RetryDecision(False, kind, self.attempts, now, reason)
        return RetryDecision(True, kind, self.attempts, at, f"retry {self.attempts + 1} in {wait:.2f}s")
