"""The program cache: guest ELFs by image id, so a program fetched once is proved many times.

Programs are large and immutable per image id, so they are spilled to disk when memory is short (not
written through: the chain or the registry can always serve them again). Jobs pin the program they are
proving with `acquire(image_id, job_id)` and `release(job_id)` when done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actors.blob_cache import BlobCache, CachedBlob
from actors.disk_tier import DiskTier
from actors.object_store import ObjectStore

MiB = 1024 * 1024


class ProgramCache:
    """ELF bytes by hex image id: `capacity` bytes in the object store, overflow on disk under `directory`."""

    def __init__(
        self,
        capacity: int = 512 * MiB,
        directory: str | Path | None = None,
        *,
        disk_capacity: int | None = 4096 * MiB,
        store: ObjectStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        disk = None if directory is None else DiskTier(Path(directory), disk_capacity)
        self._cache = BlobCache(capacity, store=store, disk=disk, clock=clock)

    def put(self, image_id: str, elf: bytes, *, job_id: str | None = None, now: float | None = None) -> CachedBlob:
        return self._cache.put(_key(image_id), elf, now=now, pin_job=job_id)

    def get(self, image_id: str, *, now: float | None = None) -> CachedBlob | None:
        return self._cache.get(_key(image_id), now=now)

    def acquire(self, image_id: str, job_id: str, *, now: float | None = None) -> CachedBlob | None:
        """The program, pinned for `job_id` until `release(job_id)`; None when not cached."""
        return self._cache.acquire(_key(image_id), job_id, now=now)

    def release(self, job_id: str) -> list[str]:
        return self._cache.release(job_id)

    def contains(self, image_id: str) -> bool:
        """For the scheduler's cache bonus: is this program already here?"""
        return self._cache.contains(_key(image_id))

    def remove(self, image_id: str) -> bool:
        return self._cache.remove(_key(image_id))

    def stats(self) -> dict[str, Any]:
        return self._cache.stats()


def _key(image_id: str) -> str:
    """Image ids arrive as hex with or without 0x, in either case; one spelling per program."""
    return image_id.lower().removeprefix("0x")
