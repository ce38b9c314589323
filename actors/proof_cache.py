"""The proof cache: receipts by (image id, input digest) for 24 h, surviving restarts.

The same program on the same input proves the same statement, so a second request for it (a re-posted
job, a retry after a lost submission) is answered from here instead of proving again. Entries are written
through to disk as they are put, so a node restarted after proving finds its receipts; expiry is
`ttl_s` after the proof was made, kept in the disk sidecar so a restart does not extend it.
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
DAY_S = 24 * 3600.0


class ProofCache:
    """Encoded receipts keyed by (image id, input digest), `ttl_s` each, written through to `directory`."""

    def __init__(
        self,
        directory: str | Path | None,
        capacity: int = 256 * MiB,
        *,
        ttl_s: float = DAY_S,
        disk_capacity: int | None = 2048 * MiB,
        store: ObjectStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        disk = None if directory is None else DiskTier(Path(directory), disk_capacity)
        self._cache = BlobCache(
            capacity, store=store, disk=disk, ttl_s=ttl_s, write_through=disk is not None, clock=clock
        )

    def put(
        self, image_id: str, input_digest: str, receipt: bytes, *, job_id: str | None = None, now: float | None = None
    ) -> CachedBlob:
        return self._cache.put(proof_key(image_id, input_digest), receipt, now=now, pin_job=job_id)

    def get(self, image_id: str, input_digest: str, *, now: float | None = None) -> CachedBlob | None:
        """The receipt if one was made less than `ttl_s` ago (here or before a restart), else None."""
        return self._cache.get(proof_key(image_id, input_digest), now=now)

    def acquire(self, image_id: str, input_digest: str, job_id: str, *, now: float | None = None) -> CachedBlob | None:
        """`get`, pinned for `job_id` (it is being submitted) until `release(job_id)`."""
        return self._cache.acquire(proof_key(image_id, input_digest), job_id, now=now)

    def release(self, job_id: str, *, now: float | None = None) -> list[str]:
        return self._cache.release(job_id, now=now)

    def contains(self, image_id: str, input_digest: str, *, now: float | None = None) -> bool:
        return self._cache.contains(proof_key(image_id, input_digest), now=now)

    def remove(self, image_id: str, input_digest: str) -> bool:
        """Forget a receipt (e.g. the chain rejected it), in memory and on disk."""
        return self._cache.remove(proof_key(image_id, input_digest))

    def expire(self, *, now: float | None = None) -> int:
        return self._cache.expire(now)

    def stats(self) -> dict[str, Any]:
        return self._cache.stats()


def proof_key(image_id: str, input_digest: str) -> str:
    """One spelling per (program, input): lower-case hex without 0x, joined by '/'."""
    return f"{image_id.lower().removeprefix('0x')}/{input_digest.lower().removeprefix('0x')}"
