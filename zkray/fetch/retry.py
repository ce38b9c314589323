"""Bounded retries for one fetch step, decided by `zkray.policy.retry` (the adapter only sleeps).

The policy reads each error's `retryable` flag and `retry_after_s` hint, backs off exponentially with
jitter, and refuses a retry that would pass the fetch's deadline: then the last real error is raised
instead of a vaguer timeout.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from zkray.fetch.config import FetchConfig
from zkray.fetch.errors import FetchError
from zkray.policy.retry import Retrier, RetryPolicy

T = TypeVar("T")


def retry_policy(config: FetchConfig) -> RetryPolicy:
    """The retry policy the fetch settings describe."""
    return RetryPolicy(
        max_attempts=config.attempts,
        initial_delay_s=config.backoff_initial_s,
        max_delay_s=config.backoff_max_s,
        jitter=config.jitter,
    )


async def with_retries(
    op: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    deadline: float,
    rng: random.Random,
) -> T:
    """Run `op` until it succeeds or the policy gives up; `deadline` is in the loop's clock."""
    loop = asyncio.get_running_loop()
    retrier = Retrier(policy, rng, give_up_at=deadline)
    for _ in range(policy.max_attempts):
        try:
            return await op()
        except FetchError as err:
            decision = retrier.on_failure(err, loop.time())
            if not decision.retry:
                raise
            await asyncio.sleep(max(0.0, decision.at - loop.time()))
    raise AssertionError("unreachable: the policy stops at max_attempts")  # pragma: no cover
