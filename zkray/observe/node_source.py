"""The source for a running zkray node: `node_status_source(node, running=...)` and nothing else to wire.

It reads the parts the node already has, by their public methods: the journal (durable counts), the
scheduler's `snapshot()` (degradation mode), the breaker registry's `snapshot()`, the prover service's
`prove_seconds` and proof cache, and any further caches the caller names. Ray nodes are asked at most
every `ray_every_s` in a worker thread, so a dashboard polling every second costs Ray's GCS nothing much.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from zkray.observe.cluster import ray_nodes
from zkray.observe.status import JournalStatusSource, LiveStats, RayNode, ThroughputHistory
from zkray.store.journal import JobJournal


class Snapshots(Protocol):
    def snapshot(self) -> dict[str, Any]: ...


class ProverLike(Protocol):
    prove_seconds: list[float]
    cache: Any  # a ProofCache (has stats()) or None


class NodeLike(Protocol):
    """The attributes of `zkray.node.pipeline.Node` this module reads."""

    journal: JobJournal
    scheduler: Snapshots
    breakers: Snapshots
    prover: ProverLike


class RayNodesCache:
    """`ray_nodes()` at most every `every_s`; the last answer in between (and [] when Ray is not up)."""

    def __init__(
        self,
        every_s: float = 5.0,
        fetch: Callable[[], list[RayNode]] = ray_nodes,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.every_s = every_s
        self._fetch = fetch
        self._clock = clock
        self._at: float | None = None
        self._nodes: list[RayNode] = []
        self._lock = asyncio.Lock()

    async def get(self) -> list[RayNode]:
        async with self._lock:
            now = self._clock()
            if self._at is None or now - self._at >= self.every_s:
                self._at = now
                try:
                    self._nodes = await asyncio.to_thread(self._fetch)
                except Exception:  # Ray not initialised, or its GCS briefly unreachable: keep the last answer
                    pass
            return list(self._nodes)


def node_status_source(
    node: NodeLike,
    *,
    running: Callable[[], bool],
    caches: Mapping[str, Any] | None = None,
    ray: bool = True,
    ray_every_s: float = 5.0,
    history: ThroughputHistory | None = None,
) -> JournalStatusSource:
    """A `JournalStatusSource` over a node; `running()` says whether its sources are running (readiness),
    `caches` adds named caches with a `stats()` method (the program cache, a blob cache)."""
    extra = dict(caches or {})
    ray_cache = RayNodesCache(ray_every_s) if ray else None

    async def live() -> LiveStats:
        sched = node.scheduler.snapshot()
        named = dict(extra)
        if node.prover.cache is not None:
            named.setdefault("proof", node.prover.cache)
        return LiveStats(
            running=running(),
            mode=sched.get("mode", "normal"),
            mode_reason=str(sched.get("mode_reason", "")),
            prove_durations_s=list(node.prover.prove_seconds),
            caches={name: cache.stats() for name, cache in named.items()},
            breakers=node.breakers.snapshot(),
            nodes=await ray_cache.get() if ray_cache is not None else [],
        )

    return JournalStatusSource(node.journal, live, history=history)
