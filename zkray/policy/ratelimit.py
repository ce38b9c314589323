"""Rate limits: a token bucket (smooth rate with bursts) and a sliding window (hard cap per period).

The bucket (default 10/s, burst 20) paces calls to an RPC or a gateway; `pause_until` lets a caller
that just got an HTTP 429 stop everyone sharing the bucket, which ends 429 storms. The sliding
window caps counted operations (claims per minute) exactly. Both take `now`; both start full.
"""

from __future__ import annotations

from collections import deque


class TokenBucket:
    """`rate` tokens per second refill a bucket holding at most `burst`; each call takes tokens."""

    def __init__(self, rate: float = 10.0, burst: float = 20.0, now: float = 0.0) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._updated = now
        self._paused_until = float("-inf")

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def tokens(self, now: float) -> float:
        """Tokens available at `now` (ignoring a pause)."""
        self._refill(now)
        return self._tokens

    def try_acquire(self, now: float, n: float = 1.0) -> bool:
        """Take `n` tokens if they are there (and no pause is in force); False leaves the bucket unchanged."""
        if n > self.burst:
            raise ValueError(f"cannot take {n} tokens from a bucket of {self.burst}; raise burst or split")
        self._refill(now)
        if now < self._paused_until or self._tokens < n:
            return False
        self._tokens -= n
        return True

    def wait_time(self, now: float, n: float = 1.0) -> float:
        """Seconds until `try_acquire(n)` could succeed, assuming nobody else takes tokens meanwhile."""
        self._refill(now)
        refill = max(0.0, (n - self._tokens) / self.rate)
        return max(refill, self._paused_until - now, 0.0)

    def pause_until(self, until: float) -> None:
        """Refuse every call before `until` (e.g. the end of a server's Retry-After)."""
        self._paused_until = max(self._paused_until, until)


class SlidingWindow:
    """At most `limit` operations in any `window_s`-long interval (timestamps kept, so it is exact)."""

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be at least 1 and window_s positive")
        self.limit = limit
        self.window_s = window_s
        self._times: deque[float] = deque()

    def _prune(self, now: float) -> None:
        while self._times and now - self._times[0] >= self.window_s:
            self._times.popleft()

    def count(self, now: float) -> int:
        """Operations counted in the window ending at `now`."""
        self._prune(now)
        return len(self._times)

    def try_acquire(self, now: float) -> bool:
        """Count one operation at `now` if the window has room."""
        self._prune(now)
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True

    def wait_time(self, now: float) -> float:
        """Seconds until the window has room again."""
        self._prune(now)
        if len(self._times) < self.limit:
            return 0.0
        return self._times[0] + self.window_s - now
