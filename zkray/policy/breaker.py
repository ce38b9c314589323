"""A circuit breaker: stop calling a service that keeps failing, then probe it carefully.

States: CLOSED (calls pass; failures counted in a sliding window) → OPEN after `failure_threshold`
failures within `window_s` (calls refused) → HALF_OPEN once `open_s` has passed (at most
`half_open_probes` trial calls) → CLOSED after that many probes succeed, or OPEN again on any probe
failure. Pure: every method takes `now`, so actors own the clock and tests own time.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from typing import Any


class BreakerState(StrEnum):
    """Where a breaker stands; `str` so it serialises as its name in dicts, JSON and metrics."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """One breaker per external service (an RPC endpoint, a gateway, a remote prover, an attester)."""

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        window_s: float = 60.0,
        open_s: float = 30.0,
        half_open_probes: int = 3,
    ) -> None:
        if failure_threshold < 1 or half_open_probes < 1:
            raise ValueError("failure_threshold and half_open_probes must be at least 1")
        if window_s <= 0 or open_s < 0:
            raise ValueError("window_s must be positive and open_s not negative")
        self.name = name
        self.failure_threshold = failure_threshold
        self.window_s = window_s
        self.open_s = open_s
        self.half_open_probes = half_open_probes
        self._state = BreakerState.CLOSED
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._half_open_at = 0.0
        self._probes_started = 0
        self._probes_succeeded = 0

    @property
    def state(self) -> BreakerState:
        """The state as of the last call; OPEN turns HALF_OPEN only when `allow(now)` looks at the clock."""
        return self._state

    def state_at(self, now: float) -> BreakerState:
        """The state a call at `now` would see, without changing anything (for dashboards)."""
        if self._state is BreakerState.OPEN and now - self._opened_at >= self.open_s:
            return BreakerState.HALF_OPEN
        return self._state

    def retry_at(self) -> float | None:
        """When an OPEN breaker will let a probe through; None when it is not open."""
        return self._opened_at + self.open_s if self._state is BreakerState.OPEN else None

    def allow(self, now: float) -> bool:
        """May a call start at `now`? In HALF_OPEN each True uses up one of the probes."""
        if self._state is BreakerState.OPEN:
            if now - self._opened_at < self.open_s:
                return False
            self._enter_half_open(now)
        if self._state is BreakerState.HALF_OPEN:
            if self._probes_started >= self.half_open_probes:
                if now - self._half_open_at < self.open_s:
                    return False
                self._enter_half_open(now)  # the last round's probes never reported: try again
            self._probes_started += 1
            return True
        return True

    def record_success(self, now: float) -> None:
        """A call succeeded; enough successful probes close the breaker."""
        if self._state is BreakerState.HALF_OPEN:
            self._probes_succeeded += 1
            if self._probes_succeeded >= self.half_open_probes:
                self._close()
        elif self._state is BreakerState.CLOSED:
            self._prune(now)

    def record_failure(self, now: float) -> None:
        """A call failed; too many in the window, or any failed probe, opens the breaker."""
        if self._state is BreakerState.HALF_OPEN:
            self._open(now)
            return
        if self._state is BreakerState.OPEN:
            return  # a late answer from a call started before the breaker opened
        self._failures.append(now)
        self._prune(now)
        if len(self._failures) >= self.failure_threshold:
            self._open(now)

    def failures_in_window(self, now: float) -> int:
        """How many failures count against the threshold at `now`."""
        return sum(1 for t in self._failures if now - t < self.window_s)

    def snapshot(self) -> dict[str, Any]:
        """A plain dict (JSON-safe) from which `restore` rebuilds an identical breaker."""
        return {
            "name": self.name,
            "failure_threshold": self.failure_threshold,
            "window_s": self.window_s,
            "open_s": self.open_s,
            "half_open_probes": self.half_open_probes,
            "state": self._state.value,
            "failures": list(self._failures),
            "opened_at": self._opened_at,
            "half_open_at": self._half_open_at,
            "probes_started": self._probes_started,
            "probes_succeeded": self._probes_succeeded,
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> CircuitBreaker:
        """Rebuild a breaker from `snapshot()`; raises KeyError/ValueError on a malformed dict."""
        breaker = cls(
            str(data["name"]),
            failure_threshold=int(data["failure_threshold"]),
            window_s=float(data["window_s"]),
            open_s=float(data["open_s"]),
            half_open_probes=int(data["half_open_probes"]),
        )
        breaker._state = BreakerState(data["state"])
        breaker._failures = deque(float(t) for t in data["failures"])
        breaker._opened_at = float(data["opened_at"])
        breaker._half_open_at = float(data.get("half_open_at", breaker._opened_at + breaker.open_s))
        breaker._probes_started = int(data["probes_started"])
        breaker._probes_succeeded = int(data["probes_succeeded"])
        return breaker

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self._state.value})"

    def _prune(self, now: float) -> None:
        while self._failures and now - self._failures[0] >= self.window_s:
            self._failures.popleft()

    def _open(self, now: float) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = now
        self._failures.clear()
        self._probes_started = 0
        self._probes_succeeded = 0

    def _enter_half_open(self, now: float) -> None:
        self._state = BreakerState.HALF_OPEN
        self._half_open_at = now
        self._probes_started = 0
        self._probes_succeeded = 0

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._failures.clear()
        self._probes_started = 0
        self._probes_succeeded = 0
