"""Which cache entries to drop: least-recently-used by bytes, never one a running job has pinned.

The Rust ancestor evicted in-flight proving data from its LRU cache mid-proof. Here a pinned entry is
simply not a candidate: `victims` walks the recency order skipping pinned keys, and when the unpinned
bytes cannot make room it says so instead of evicting anything. Pure bookkeeping: no bytes, no I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Slot:
    size: int
    expires_at: float | None
    pinned_by: set[str]


class ByteLru:
    """Sizes, recency, expiry and pins of the entries of one cache tier holding at most `capacity` bytes."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a cache tier needs a capacity of at least one byte")
        self.capacity = capacity
        self._slots: OrderedDict[str, _Slot] = OrderedDict()  # least recently used first
        self._jobs: dict[str, set[str]] = {}  # job id -> keys it pins
        self.used = 0

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    def keys(self) -> list[str]:
        """Keys, least recently used first."""
        return list(self._slots)

    def add(self, key: str, size: int, expires_at: float | None = None) -> None:
        """Account for a new entry (most recently used); the caller has made room with `victims` first."""
        if key in self._slots:
            raise KeyError(f"{key} is already cached; remove it before adding it again")
        self._slots[key] = _Slot(size, expires_at, set())
        self.used += size

    def touch(self, key: str) -> None:
        """Mark `key` most recently used."""
        self._slots.move_to_end(key)

    def size(self, key: str) -> int:
        return self._slots[key].size

    def expires_at(self, key: str) -> float | None:
        return self._slots[key].expires_at

    def is_expired(self, key: str, now: float) -> bool:
        expiry = self._slots[key].expires_at
        return expiry is not None and now >= expiry

    def expired(self, now: float) -> list[str]:
        """Keys past their expiry at `now`, pinned or not (a pinned one is dropped when released)."""
        return [k for k, s in self._slots.items() if s.expires_at is not None and now >= s.expires_at]

    def remove(self, key: str) -> int:
        """Forget `key` (and its pins); returns the bytes freed."""
        slot = self._slots.pop(key)
        for job in slot.pinned_by:
            self._jobs[job].discard(key)
            if not self._jobs[job]:
                del self._jobs[job]
        self.used -= slot.size
        return slot.size

    def pin(self, key: str, job_id: str) -> None:
        """`job_id` holds `key`: it is not evicted until every job holding it has released it."""
        self._slots[key].pinned_by.add(job_id)
        self._jobs.setdefault(job_id, set()).add(key)

    def release(self, job_id: str) -> list[str]:
        """Drop every pin of `job_id`; returns the keys it held."""
        keys = self._jobs.pop(job_id, set())
        for key in keys:
            self._slots[key].pinned_by.discard(job_id)
        return sorted(keys)

    def is_pinned(self, key: str) -> bool:
        return bool(self._slots[key].pinned_by)

    def pinned_bytes(self) -> int:
        return sum(s.size for s in self._slots.values() if s.pinned_by)

    def pins(self) -> dict[str, list[str]]:
        """Job id -> keys it pins (for the dashboard)."""
        return {job: sorted(keys) for job, keys in self._jobs.items()}

    def victims(self, incoming: int) -> list[str] | None:
        """Unpinned keys to evict, least recently used first, so that `incoming` more bytes fit;
        None when even evicting every unpinned entry would not make room (nothing should be evicted)."""
        need = self.used + incoming - self.capacity
        if need <= 0:
            return []
        chosen: list[str] = []
        for key, slot in self._slots.items():
            if slot.pinned_by:
                continue
            chosen.append(key)
            need -= slot.size
            if need <= 0:
                return chosen
        return None
