"""Every node service is `run(cancel)`; the supervisor restarts one that fails, with backoff.

A service that returns while `cancel` is not set is restarted too (an event stream that ended is not
"done"). Backoff doubles from `initial_s` to `max_s` and resets after a run that lasted `healthy_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("zkray.node")

Service = Callable[[asyncio.Event], Awaitable[None]]


@dataclass
class ServiceStats:
    restarts: int = 0
    last_error: str | None = None
    errors: list[str] = field(default_factory=list)


async def supervise(
    name: str,
    service: Service,
    cancel: asyncio.Event,
    stats: ServiceStats,
    *,
    initial_s: float = 0.1,
    max_s: float = 10.0,
    healthy_s: float = 30.0,
) -> None:
    """Run `service` until `cancel` is set, restarting it after failures."""
    delay = initial_s
    while not cancel.is_set():
        started = time.monotonic()
        try:
            await service(cancel)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a service's failure must not stop the node
            stats.last_error = f"{type(exc).__name__}: {exc}"
            stats.errors.append(stats.last_error)
            del stats.errors[:-20]
            log.warning("service %s failed (%s); restarting in %.1fs", name, stats.last_error, delay)
        if cancel.is_set():
            return
        stats.restarts += 1
        if time.monotonic() - started >= healthy_s:
            delay = initial_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(cancel.wait(), delay)
        delay = min(delay * 2, max_s)
