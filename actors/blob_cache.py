"""A two-tier byte cache: memory (the Ray object store) in front of an optional disk tier.

Memory is bounded by bytes and evicts the least recently used entry that no running job pins; an
evicted entry is spilled to disk, and a later `get` reloads it. With `write_through` every entry is on
disk as soon as it is put, so it survives the process (the proof cache's promise). Expiry (`ttl_s`) is
checked against the `now` each call passes, or the injected clock. The program and proof caches are
this class with their own keys; the actor factory makes them Ray actors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.disk_tier import DiskTier
from actors.errors import CacheFull, EntryPinned, EntryTooLarge
from actors.lru import ByteLru
from actors.object_store import LocalObjectStore, ObjectStore


@dataclass(frozen=True)
class CachedBlob:
    """A cache hit: the handle to pass to tasks (an ObjectRef under Ray), its size and where it was found."""

    key: str
    handle: Any
    size: int
    tier: str  # "memory" or "disk" (reloaded into memory by this call)


class BlobCache:
    """Bytes by key, `capacity` bytes in memory, optionally spilled to (or written through to) `disk`."""

    def __init__(
        self,
        capacity: int,
        *,
        store: ObjectStore | None = None,
        disk: DiskTier | None = None,
        ttl_s: float | None = None,
        write_through: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if write_through and disk is None:
            raise ValueError("write_through needs a disk tier; give the cache a directory")
        self._lru = ByteLru(capacity)
        self._store = store or LocalObjectStore()
        self._disk = disk
        self._ttl_s = ttl_s
        self._write_through = write_through
        self._clock = clock
        self._handles: dict[str, Any] = {}
        self._created: dict[str, float] = {}
        self.counters = {"hits": 0, "disk_hits": 0, "misses": 0, "evictions": 0, "spills": 0, "expired": 0}

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    # ---- the operations -----------------------------------------------------------------------------

    def put(self, key: str, data: bytes, *, now: float | None = None, pin_job: str | None = None) -> CachedBlob:
        """Cache `data` under `key` (pinned by `pin_job` if given). Raises EntryTooLarge or CacheFull."""
        now = self._now(now)
        if key in self._lru:
            if self._lru.is_pinned(key):  # a running job reads these bytes: keep them, same key same content
                return self._hit(key, pin_job, "memory")
            self._drop_memory(key)
        expires = None if self._ttl_s is None else now + self._ttl_s
        self._admit(key, data, created_at=now, expires_at=expires)
        if self._write_through and self._disk is not None:
            self._disk.write(key, data, now, expires)
        return self._hit(key, pin_job, "memory")

    def get(self, key: str, *, now: float | None = None) -> CachedBlob | None:
        """The entry, from memory or reloaded from disk; None on a miss or once it has expired."""
        return self.acquire(key, None, now=now)

    def acquire(self, key: str, job_id: str | None, *, now: float | None = None) -> CachedBlob | None:
        """`get`, and pin the entry for `job_id` until `release(job_id)`; never evicted while pinned."""
        now = self._now(now)
        self.expire(now)
        if key in self._lru:
            if not self._lru.is_expired(key, now):  # expired but pinned: kept for its holder, invisible to others
                self.counters["hits"] += 1
                return self._hit(key, job_id, "memory")
        elif self._disk is not None and key in self._disk:
            entry = self._disk.entry(key)
            data = self._disk.read(key) if entry is not None and not _past(entry.expires_at, now) else None
            if data is not None and entry is not None:
                self._admit(key, data, created_at=entry.created_at, expires_at=entry.expires_at)
                self.counters["disk_hits"] += 1
                return self._hit(key, job_id, "disk")
        self.counters["misses"] += 1
        return None

    def release(self, job_id: str, *, now: float | None = None) -> list[str]:
        """Unpin everything `job_id` held (its job finished or died); returns the keys it held."""
        keys = self._lru.release(job_id)
        self.expire(self._now(now))
        return keys

    def remove(self, key: str) -> bool:
        """Forget `key` in both tiers; raises EntryPinned while a running job holds it."""
        if key in self._lru and self._lru.is_pinned(key):
            raise EntryPinned(f"{key} is held by a running job; release the job before removing the entry")
        found = key in self._lru or (self._disk is not None and key in self._disk)
        if key in self._lru:
            self._drop_memory(key)
        if self._disk is not None:
            self._disk.delete(key)
        return found

    def expire(self, now: float | None = None) -> int:
        """Drop expired entries that no job pins, from both tiers; returns how many."""
        now = self._now(now)
        dropped = 0
        for key in self._lru.expired(now):
            if not self._lru.is_pinned(key):
                self._drop_memory(key)
                dropped += 1
        if self._disk is not None:
            for entry in self._disk.entries():
                if _past(entry.expires_at, now) and entry.key not in self._lru:
                    self._disk.delete(entry.key)
                    dropped += 1
        self.counters["expired"] += dropped
        return dropped

    def contains(self, key: str, *, now: float | None = None) -> bool:
        """Whether a `get` at `now` would hit (without counting or reloading)."""
        now = self._now(now)
        if key in self._lru:
            return not self._lru.is_expired(key, now)
        entry = None if self._disk is None else self._disk.entry(key)
        return entry is not None and not _past(entry.expires_at, now)

    def stats(self) -> dict[str, Any]:
        """Sizes, pins and counters, for the dashboard (JSON-safe)."""
        return {
            "entries": len(self._lru),
            "bytes": self._lru.used,
            "capacity": self._lru.capacity,
            "pinned_bytes": self._lru.pinned_bytes(),
            "pins": self._lru.pins(),
            "disk_entries": 0 if self._disk is None else len(self._disk),
            "disk_bytes": 0 if self._disk is None else self._disk.used,
            **self.counters,
        }

    # ---- internals ----------------------------------------------------------------------------------

    def _admit(self, key: str, data: bytes, *, created_at: float, expires_at: float | None) -> None:
        """Put `data` into the memory tier, evicting (and spilling) unpinned LRU entries to make room."""
        size = len(data)
        if size > self._lru.capacity:
            raise EntryTooLarge(key, size, self._lru.capacity)
        victims = self._lru.victims(size)
        if victims is None:
            raise CacheFull(key, size, self._lru.pinned_bytes(), self._lru.capacity)
        for victim in victims:
            self._spill(victim)
        self._handles[key] = self._store.put(data)
        self._created[key] = created_at
        self._lru.add(key, size, expires_at)

    def _spill(self, key: str) -> None:
        if self._disk is not None and key not in self._disk:
            data = self._store.get(self._handles[key])
            if self._disk.write(key, data, self._created[key], self._lru.expires_at(key)):
                self.counters["spills"] += 1
        self._drop_memory(key)
        self.counters["evictions"] += 1

    def _drop_memory(self, key: str) -> None:
        self._lru.remove(key)
        self._created.pop(key, None)
        self._store.free(self._handles.pop(key))

    def _hit(self, key: str, job_id: str | None, tier: str) -> CachedBlob:
        self._lru.touch(key)
        if job_id is not None:
            self._lru.pin(key, job_id)
        return CachedBlob(key, self._handles[key], self._lru.size(key), tier)


def _past(expires_at: float | None, now: float) -> bool:
    return expires_at is not None and now >= expires_at
