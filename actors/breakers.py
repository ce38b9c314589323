"""The circuit-breaker registry: one breaker per external service, shared by every task of the node.

Services are named by convention (`RPC`, `ATTESTER`, `REMOTE_PROVER`, `GPU`, and the fetch adapter's
`ipfs-gateway:<url>` and `http:<origin>`); a breaker is created on first use with the registry's
settings. Beside the breakers the registry keeps the recent outcome of proofs and submissions, and turns
both into the `HealthSignals` the degradation policy reads. The state machine is
`zkray.policy.breaker.CircuitBreaker`; nothing here decides anything the policy does not.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from zkray.policy.breaker import BreakerState, CircuitBreaker
from zkray.policy.degradation import HealthSignals

RPC = "rpc"
ATTESTER = "attester"
REMOTE_PROVER = "remote_prover"
GPU = "gpu"
GATEWAY_PREFIX = "ipfs-gateway:"  # zkray.fetch.race.gateway_breaker_name


class OutcomeWindow:
    """Successes and failures of the last `window_s` seconds; a rate needs `min_samples` to count."""

    def __init__(self, window_s: float = 300.0, min_samples: int = 5, max_samples: int = 10_000) -> None:
        self.window_s = window_s
        self.min_samples = min_samples
        self._samples: deque[tuple[float, bool]] = deque(maxlen=max_samples)

    def record(self, ok: bool, now: float) -> None:
        self._samples.append((now, ok))

    def failure_rate(self, now: float) -> float:
        """Fraction of recent outcomes that failed; 0 with fewer than `min_samples` (one failure is no trend)."""
        while self._samples and now - self._samples[0][0] >= self.window_s:
            self._samples.popleft()
        if len(self._samples) < self.min_samples:
            return 0.0
        return sum(1 for _, ok in self._samples if not ok) / len(self._samples)


class CircuitBreakers:
    """Breakers by service name plus recent prove/submit outcomes; every method takes an optional `now`."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        window_s: float = 60.0,
        open_s: float = 30.0,
        half_open_probes: int = 3,
        outcome_window_s: float = 300.0,
        min_samples: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = {
            "failure_threshold": failure_threshold,
            "window_s": window_s,
            "open_s": open_s,
            "half_open_probes": half_open_probes,
        }
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self._outcomes = {kind: OutcomeWindow(outcome_window_s, min_samples) for kind in ("prove", "submit")}

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    def breaker(self, service: str) -> CircuitBreaker:
        """The breaker for `service`, created on first use (naming a service also declares it present)."""
        found = self._breakers.get(service)
        if found is None:
            found = self._breakers[service] = CircuitBreaker(service, **self._settings)
        return found

    def register(self, *services: str) -> None:
        """Declare services the node uses (a remote prover, a GPU) so the signals report them from the start."""
        for service in services:
            self.breaker(service)

    def allow(self, service: str, now: float | None = None) -> bool:
        """May a call to `service` start now? (In half-open, each True is one probe.)"""
        return self.breaker(service).allow(self._now(now))

    def record(self, service: str, ok: bool, now: float | None = None) -> BreakerState:
        """Report how a call to `service` ended; returns the breaker's state after it."""
        breaker = self.breaker(service)
        now = self._now(now)
        if ok:
            breaker.record_success(now)
        else:
            breaker.record_failure(now)
        return breaker.state_at(now)

    def state(self, service: str, now: float | None = None) -> BreakerState:
        return self.breaker(service).state_at(self._now(now))

    def last_state(self, service: str) -> BreakerState:
        """The state as of the breaker's last call (the fetcher's `breaker.state`: is this call a probe?)."""
        return self.breaker(service).state

    def record_outcome(self, kind: str, ok: bool, now: float | None = None) -> None:
        """Count a finished proof (`kind="prove"`) or submission (`"submit"`) for the failure rates."""
        if kind not in self._outcomes:
            raise ValueError(f"outcome kind must be one of {sorted(self._outcomes)}, not {kind!r}")
        self._outcomes[kind].record(ok, self._now(now))

    def signals(self, now: float | None = None) -> HealthSignals:
        """What the degradation policy needs; services never declared read as absent (None)."""
        now = self._now(now)

        def state(name: str) -> BreakerState | None:
            return self._breakers[name].state_at(now) if name in self._breakers else None

        gateways = tuple(b.state_at(now) for n, b in sorted(self._breakers.items()) if n.startswith(GATEWAY_PREFIX))
        return HealthSignals(
            rpc=state(RPC) or BreakerState.CLOSED,
            attester=state(ATTESTER) or BreakerState.CLOSED,
            gateways=gateways,
            remote_prover=state(REMOTE_PROVER),
            gpu=state(GPU),
            prove_failure_rate=self._outcomes["prove"].failure_rate(now),
            submit_failure_rate=self._outcomes["submit"].failure_rate(now),
        )

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """For the dashboard and for persistence: every breaker's full state plus what a call sees now."""
        now = self._now(now)
        return {
            name: {**b.snapshot(), "state_now": b.state_at(now).value, "retry_at": b.retry_at()}
            for name, b in sorted(self._breakers.items())
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Reload breakers saved by `snapshot` (a restarted node remembers which service was failing)."""
        for name, data in snapshot.items():
            fields = {k: v for k, v in data.items() if k not in ("state_now", "retry_at")}
            self._breakers[name] = CircuitBreaker.restore(fields)
