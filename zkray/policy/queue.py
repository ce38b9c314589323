"""A bounded priority queue of jobs with de-duplication that, when full, drops the WORST job.

The Rust ancestor kept a max-heap and, when full, removed the element it could see cheaply, which was
the best one. Here the entries live in one list sorted best-first, so the best is at index 0 and the
worst at the end, and eviction cannot pick the wrong end. A newcomer that would itself be the worst
(ties go to the job already queued) is rejected instead. Bounded capacities keep the O(n) insert cheap.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class PushOutcome(StrEnum):
    """What `push` did with the newcomer."""

    ADDED = "added"  # queued; `evicted` says whether the worst job made room for it
    DUPLICATE = "duplicate"  # a job with this id is already queued; nothing changed
    REJECTED = "rejected"  # full, and the newcomer would have been the worst job


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One queued job: its id, the caller's item and the score it was queued with."""

    job_id: str
    item: T
    score: float


@dataclass(frozen=True)
class PushResult(Generic[T]):
    """The outcome of a push, and the job evicted to make room (if any)."""

    outcome: PushOutcome
    evicted: Entry[T] | None = None


@dataclass(order=True)
class _Key:
    neg_score: float
    seq: int  # earlier arrivals win ties
    job_id: str = field(compare=False)


class BoundedPriorityQueue(Generic[T]):
    """At most `capacity` jobs, best first, each job id at most once."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._keys: list[_Key] = []  # sorted: best first
        self._entries: dict[str, tuple[_Key, Entry[T]]] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        """Entries best first."""
        return (self._entries[k.job_id][1] for k in list(self._keys))

    def push(self, job_id: str, item: T, score: float) -> PushResult[T]:
        """Queue a job; if full, evict the worst job, or reject the newcomer if it would be the worst."""
        if score != score:
            raise ValueError(f"job {job_id} has a NaN score; a NaN cannot be ordered, fix the scoring inputs")
        if job_id in self._entries:
            return PushResult(PushOutcome.DUPLICATE)
        key = _Key(-score, next(self._seq), job_id)
        evicted = None
        if len(self._keys) >= self.capacity:
            if not key < self._keys[-1]:
                return PushResult(PushOutcome.REJECTED)
            evicted = self._remove_key(self._keys[-1])
        bisect.insort(self._keys, key)
        self._entries[job_id] = (key, Entry(job_id, item, score))
        return PushResult(PushOutcome.ADDED, evicted)

    def pop(self) -> Entry[T] | None:
        """Take the best job out, or None when empty."""
        return self._remove_key(self._keys[0]) if self._keys else None

    def peek_best(self) -> Entry[T] | None:
        """The best job, left in place."""
        return self._entries[self._keys[0].job_id][1] if self._keys else None

    def peek_worst(self) -> Entry[T] | None:
        """The job a full queue would evict next."""
        return self._entries[self._keys[-1].job_id][1] if self._keys else None

    def remove(self, job_id: str) -> Entry[T] | None:
        """Take a job out by id (cancelled, claimed by another prover); None if not queued."""
        found = self._entries.get(job_id)
        return None if found is None else self._remove_key(found[0])

    def rescore(self, score_of: Callable[[T], float]) -> None:
        """Recompute every score (tips decay and deadlines approach); arrival order still breaks ties."""
        rescored = [(k, Entry(e.job_id, e.item, score_of(e.item))) for k, e in self._entries.values()]
        if any(e.score != e.score for _, e in rescored):
            raise ValueError("a rescored job has a NaN score; nothing was changed")
        self._entries = {e.job_id: (_Key(-e.score, k.seq, e.job_id), e) for k, e in rescored}
        self._keys = sorted(k for k, _ in self._entries.values())

    def drain_below(self, threshold: float) -> list[Entry[T]]:
        """Remove and return every job scoring below `threshold` (e.g. expired ones at -inf), worst first."""
        out = []
        while self._keys and -self._keys[-1].neg_score < threshold:
            out.append(self._remove_key(self._keys[-1]))
        return out

    def _remove_key(self, key: _Key) -> Entry[T]:
        index = bisect.bisect_left(self._keys, key)  # keys are unique: (score, arrival) never repeats
        del self._keys[index]
        return self._entries.pop(key.job_id)[1]
