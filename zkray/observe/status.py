"""What the dashboard, `/metrics` and `/readyz` read: one `NodeStatus` snapshot from one `NodeStatusSource`.

Every front door renders the same snapshot, so the page, the scrape and the readiness probe never
disagree. The node passes a source in; `JournalStatusSource` is the one it normally uses: durable facts
(jobs by state, proofs, cycles proved, earnings) come from the SQLite journal, so they survive a restart;
what only the running process knows (prove times, caches, breakers, mode, Ray nodes) comes from a
`LiveStats` callback the node supplies.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field, field_serializer

from zkray.policy.degradation import Mode
from zkray.policy.jobs import JobStatus
from zkray.store.journal import JobJournal

PROVEN = (JobStatus.PROVED, JobStatus.SUBMITTING, JobStatus.COMPLETED)
"""Jobs that hold or delivered a proof: the journal's durable count of proofs made."""

PROVE_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Histogram buckets for prove time: a small guest proves in well under a second, a big one in minutes."""


class RayNode(BaseModel):
    """One Ray node: its resources and the jobs its prove tasks are working on."""

    node_id: str
    address: str = ""
    alive: bool = True
    cpus: float = 0.0
    gpus: float = 0.0
    proving: list[str] = Field(default_factory=list)


class CacheStats(BaseModel):
    """Hit counters of one cache (program, proof, blob)."""

    hits: int = 0
    misses: int = 0


class ThroughputSample(BaseModel):
    """Rates over the interval ending at `at` (unix seconds)."""

    at: float
    proofs_per_min: float
    cycles_per_s: float


class ProveTimes(BaseModel):
    """Prove-time histogram: cumulative counts per upper bound (seconds), as Prometheus wants them."""

    count: int = 0
    sum_s: float = 0.0
    buckets: list[tuple[float, int]] = Field(default_factory=list)


class NodeStatus(BaseModel):
    """Everything an operator sees, at one instant; JSON-safe (`earned_wei` travels as a decimal string)."""

    at: float
    running: bool
    mode: Mode = Mode.NORMAL
    mode_reason: str = ""
    jobs: dict[str, int]
    proving_now: list[str] = Field(default_factory=list)
    proofs: int = 0
    cycles_proved: int = 0
    prove_times: ProveTimes = Field(default_factory=ProveTimes)
    earned_wei: int = 0
    caches: dict[str, CacheStats] = Field(default_factory=dict)
    breakers: dict[str, str] = Field(default_factory=dict)
    nodes: list[RayNode] = Field(default_factory=list)
    throughput: list[ThroughputSample] = Field(default_factory=list)

    @field_serializer("earned_wei")
    def _wei_as_text(self, value: int) -> str:
        return str(value)  # wei exceed 2**53: a JSON number would lose digits in the browser


@runtime_checkable
class NodeStatusSource(Protocol):
    """Anything that can say how the node is doing right now; the routes of this package take one."""

    async def status(self) -> NodeStatus: ...


@dataclass
class LiveStats:
    """What only the running node knows; the node builds one per call of its `live` callback.

    `caches` takes each cache's `stats()` dict as is; `breakers` takes `CircuitBreakers.snapshot()` as is
    (or plain name → state strings); `prove_durations_s` takes `ProverService.prove_seconds`.
    """

    running: bool = True
    mode: Mode | str = Mode.NORMAL
    mode_reason: str = ""
    prove_durations_s: Sequence[float] = ()
    caches: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    breakers: Mapping[str, Any] = field(default_factory=dict)
    nodes: Sequence[RayNode] = ()


def prove_times(durations: Sequence[float], buckets: Sequence[float] = PROVE_BUCKETS_S) -> ProveTimes:
    """Cumulative histogram of `durations` (the +Inf bucket is `count`)."""
    ordered = sorted(durations)
    cumulative, i = [], 0
    for bound in buckets:
        while i < len(ordered) and ordered[i] <= bound:
            i += 1
        cumulative.append((float(bound), i))
    return ProveTimes(count=len(ordered), sum_s=float(sum(ordered)), buckets=cumulative)


def cache_stats(stats: Mapping[str, Any]) -> CacheStats:
    """Hits and misses from a cache's `stats()`; a blob cache's disk hits are hits too."""
    return CacheStats(hits=int(stats.get("hits", 0)) + int(stats.get("disk_hits", 0)),
                      misses=int(stats.get("misses", 0)))  # fmt: skip


def breaker_states(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """name → state from `CircuitBreakers.snapshot()` (prefers `state_now`, which sees OPEN turn HALF_OPEN)."""
    out = {}
    for name, value in snapshot.items():
        if isinstance(value, Mapping):
            value = value.get("state_now", value.get("state", "unknown"))
        out[str(name)] = str(value)
    return out


class ThroughputHistory:
    """Rates between successive samples of the cumulative proof and cycle counts, the last `size` kept.

    A sample is taken at most every `interval_s`, whoever asks: the dashboard's poll or the source's own
    `run` loop, so the chart has history even when nobody was watching.
    """

    def __init__(self, size: int = 300, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._last: tuple[float, int, int] | None = None
        self._samples: deque[ThroughputSample] = deque(maxlen=size)

    def record(self, now: float, proofs: int, cycles: int) -> None:
        if self._last is None:
            self._last = (now, proofs, cycles)
            return
        t0, p0, c0 = self._last
        dt = now - t0
        if dt < self.interval_s:
            return
        self._samples.append(ThroughputSample(
            at=now, proofs_per_min=max(proofs - p0, 0) * 60.0 / dt, cycles_per_s=max(cycles - c0, 0) / dt))  # fmt: skip
        self._last = (now, proofs, cycles)

    def samples(self) -> list[ThroughputSample]:
        return list(self._samples)


LiveCallback = Callable[[], LiveStats | Awaitable[LiveStats]]


class JournalStatusSource:
    """The usual source: durable counts from the journal, the rest from the node's `live` callback.

    Sums over proven and completed jobs are recomputed only when the counts of those states change, so a
    poll every second costs one GROUP BY and a short PROVING query, not a scan of every job.
    """

    def __init__(
        self,
        journal: JobJournal,
        live: LiveCallback | None = None,
        *,
        clock: Callable[[], float] = time.time,
        history: ThroughputHistory | None = None,
    ) -> None:
        self.journal = journal
        self._live = live
        self._clock = clock
        self.history = history or ThroughputHistory()
        self._sums_key: tuple[int, ...] | None = None
        self._sums = (0, 0, 0)  # proofs, cycles, earned wei
        self._lock = asyncio.Lock()

    async def status(self) -> NodeStatus:
        """One snapshot; the journal is read in a worker thread (SQLite calls block)."""
        live = await self._live_stats()
        async with self._lock:
            counts, proving, (proofs, cycles, earned) = await asyncio.to_thread(self._read_journal)
            now = self._clock()
            self.history.record(now, proofs, cycles)
        return NodeStatus(
            at=now, running=live.running, mode=Mode(live.mode), mode_reason=live.mode_reason,
            jobs=counts, proving_now=proving, proofs=proofs, cycles_proved=cycles,
            prove_times=prove_times(live.prove_durations_s), earned_wei=earned,
            caches={name: cache_stats(s) for name, s in live.caches.items()},
            breakers=breaker_states(live.breakers), nodes=list(live.nodes), throughput=self.history.samples(),
        )  # fmt: skip

    async def run(self, cancel: asyncio.Event) -> None:
        """Sample throughput every interval until `cancel`, so the chart fills while nobody watches."""
        while not cancel.is_set():
            await self.status()
            try:
                await asyncio.wait_for(cancel.wait(), self.history.interval_s)
            except TimeoutError:
                pass

    async def _live_stats(self) -> LiveStats:
        if self._live is None:
            return LiveStats()
        got = self._live()
        return await got if inspect.isawaitable(got) else got

    def _read_journal(self) -> tuple[dict[str, int], list[str], tuple[int, int, int]]:
        counts = self.journal.counts()
        proving = [j.id for j in self.journal.jobs([JobStatus.PROVING], limit=50)]
        key = tuple(counts[s] for s in PROVEN)
        if key != self._sums_key:
            proofs = cycles = earned = 0
            for job in self.journal.jobs(PROVEN, limit=10_000_000):
                proofs += 1
                cycles += job.cycles or 0
                if job.status is JobStatus.COMPLETED:
                    earned += int(job.payload.get("payout_wei", 0))
            # a proved job that later fails or expires leaves PROVEN: never let the counters step back
            p0, c0, e0 = self._sums
            self._sums_key, self._sums = key, (max(proofs, p0), max(cycles, c0), max(earned, e0))
        return {s.value: n for s, n in counts.items()}, proving, self._sums
