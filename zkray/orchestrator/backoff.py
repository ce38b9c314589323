"""When to ask the orchestrator for tasks again. Pure: the worker sleeps what this returns.

Every failure in a row (no tasks, rate limited, an error) doubles the wait from `initial_s` up to
`max_s`, with jitter so that a fleet does not poll in step; a server's Retry-After is honoured as a
minimum (up to `max_retry_after_s`). Tasks reset it all. `max_404s` "no tasks" answers in a row
mean the orchestrator has run dry: the worker stops fetching.
"""

from __future__ import annotations

import random

from zkray.policy.retry import ErrorKind, RetryPolicy


class FetchBackoff:
    """Counts consecutive fetch failures and turns them into waits."""

    def __init__(
        self, initial_s: float, max_s: float, jitter: float, max_404s: int, max_retry_after_s: float, rng: random.Random
    ) -> None:
        self.policy = RetryPolicy(
            max_attempts=1, initial_delay_s=initial_s, max_delay_s=max(initial_s, max_s), multiplier=2.0,
            jitter=jitter, rate_limit_factor=1.0,
        )  # fmt: skip
        self.max_404s = max_404s
        self.max_retry_after_s = max_retry_after_s
        self.rng = rng
        self.failures = 0
        self.consecutive_404s = 0

    @property
    def exhausted(self) -> bool:
        """True once `max_404s` "no tasks" answers came in a row."""
        return self.consecutive_404s >= self.max_404s

    def on_tasks(self) -> float:
        """Tasks arrived: no wait, everything reset."""
        self.failures = 0
        self.consecutive_404s = 0
        return 0.0

    def _next(self, kind: ErrorKind) -> float:
        self.failures += 1
        return self.policy.delay(self.failures, self.rng, kind)

    def on_no_tasks(self, retry_after_s: float | None = None) -> float:
        self.consecutive_404s += 1
        return self._honour(self._next(ErrorKind.RETRYABLE), retry_after_s)

    def on_rate_limited(self, retry_after_s: float | None) -> float:
        return self._honour(self._next(ErrorKind.RATE_LIMITED), retry_after_s)

    def on_error(self, retry_after_s: float | None = None) -> float:
        """A failed request that was not a 404, or one that brought only duplicates (not counted as a 404)."""
        return self._honour(self._next(ErrorKind.RETRYABLE), retry_after_s)

    def _honour(self, wait: float, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            wait = max(wait, min(retry_after_s, self.max_retry_after_s))
        return wait
