"""The breakers the fetcher consults: one per gateway or HTTP origin, created on first use.

The fetcher depends only on the two protocols below, so the node can hand it breakers kept anywhere
(a local dict here, the `CircuitBreakers` actor's state later); the state machine itself is
`zkray.policy.breaker.CircuitBreaker` and is never reimplemented here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from zkray.fetch.errors import FetchError, GatewayError
from zkray.policy.breaker import CircuitBreaker

T = TypeVar("T")


class Breaker(Protocol):
    """What the fetcher asks of a breaker; `now` comes from the fetcher's injected clock."""

    def allow(self, now: float) -> bool: ...

    def record_success(self, now: float) -> None: ...

    def record_failure(self, now: float) -> None: ...

    @property
    def state(self) -> str: ...


class BreakerRegistry(Protocol):
    """A mapping name → breaker that creates a breaker the first time a name is looked up."""

    def __getitem__(self, name: str) -> Breaker: ...


class LocalBreakers(dict[str, CircuitBreaker]):
    """An in-process registry: `registry[name]` makes a `CircuitBreaker(name, **settings)` on demand."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        window_s: float = 60.0,
        open_s: float = 30.0,
        half_open_probes: int = 3,
    ) -> None:
        super().__init__()
        self.failure_threshold = failure_threshold
        self.window_s = window_s
        self.open_s = open_s
        self.half_open_probes = half_open_probes

    def __missing__(self, name: str) -> CircuitBreaker:
        breaker = CircuitBreaker(
            name,
            failure_threshold=self.failure_threshold,
            window_s=self.window_s,
            open_s=self.open_s,
            half_open_probes=self.half_open_probes,
        )
        self[name] = breaker
        return breaker


def is_probe(breaker: Breaker) -> bool:
    """True when the call just allowed is a half-open probe (its outcome must always be recorded)."""
    return str(getattr(breaker, "state", "")) == "half_open"


def counts_against(err: FetchError) -> bool:
    """Does this error count as the source failing? A 404/410 is a healthy "I do not have it"."""
    return not (isinstance(err, GatewayError) and err.status in (404, 410))


async def guarded(breaker: Breaker, clock: Callable[[], float], op: Callable[[], Awaitable[T]], *, probe: bool) -> T:
    """Run one call that `breaker` allowed (`probe`: it was allowed as a half-open probe); record it.

    A call cancelled because it lost a race records nothing, except a half-open probe: a probe that
    never reports would hold its slot forever, so a cancelled probe counts as a failure.
    """
    try:
        result = await op()
    except FetchError as err:
        if counts_against(err):
            breaker.record_failure(clock())
        else:
            breaker.record_success(clock())
        raise
    except asyncio.CancelledError:
        if probe:
            breaker.record_failure(clock())
        raise
    breaker.record_success(clock())
    return result
