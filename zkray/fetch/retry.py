"""Bounded retries for one fetch step: `attempts` tries, exponential backoff with jitter, the deadline.

Only errors marked `retryable` are tried again, and never past the caller's deadline: when the next
delay (the backoff, or a longer Retry-After a server asked for) would overrun it, the last real error
is raised instead of a vaguer timeout.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from zkray.fetch.config import FetchConfig
from zkray.fetch.errors import FetchError, GatewayError

T = TypeVar("T")


def backoff_s(config: FetchConfig, retry: int, rng: random.Random) -> float:
    """Delay before retry number `retry` (1-based): initial·2^(retry-1), capped, ± jitter."""
    base = min(config.backoff_max_s, config.backoff_initial_s * 2 ** (retry - 1))
    return base * (1.0 + rng.uniform(-config.jitter, config.jitter))


async def with_retries(
    op: Callable[[], Awaitable[T]],
    *,
    config: FetchConfig,
    deadline: float,
    rng: random.Random,
) -> T:
    """Run `op` until it succeeds, fails permanently, runs out of tries, or the next wait passes `deadline`.

    `deadline` is in the running loop's clock (`loop.time()`).
    """
    loop = asyncio.get_running_loop()
    for attempt in range(1, config.attempts + 1):
        try:
            return await op()
        except FetchError as err:
            if not err.retryable or attempt == config.attempts:
                raise
            delay = backoff_s(config, attempt, rng)
            if isinstance(err, GatewayError) and err.retry_after_s is not None:
                delay = max(delay, min(err.retry_after_s, config.backoff_max_s))
            if loop.time() + delay >= deadline:
                raise
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover
