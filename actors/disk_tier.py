"""The disk tier of a cache: entries spilled from memory, or written through, and found again after a restart.

One data file and one small JSON sidecar per entry, named by the SHA-256 of the key so any key is a safe
file name. Data is written first and the sidecar last, each through a temporary file and `os.replace`,
so a crash leaves either a whole entry or an orphan that the next scan deletes. Every read checks the
data against the digest in the sidecar: a corrupt file is a miss, never wrong bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class DiskEntry:
    """What the sidecar records about one entry."""

    key: str
    size: int
    sha256: str
    created_at: float
    expires_at: float | None


class DiskTier:
    """Entries under `directory`, at most `capacity` bytes of data (least recently read dropped first)."""

    def __init__(self, directory: str | Path, capacity: int | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.capacity = capacity
        self._entries: dict[str, DiskEntry] = {}
        self.corrupt_dropped = 0
        self._scan()

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def used(self) -> int:
        return sum(e.size for e in self._entries.values())

    def entry(self, key: str) -> DiskEntry | None:
        return self._entries.get(key)

    def entries(self) -> list[DiskEntry]:
        return list(self._entries.values())

    def write(self, key: str, data: bytes, created_at: float, expires_at: float | None = None) -> bool:
        """Store `data` under `key` (replacing any older copy); False when it can never fit the tier."""
        if self.capacity is not None and len(data) > self.capacity:
            return False
        entry = DiskEntry(key, len(data), hashlib.sha256(data).hexdigest(), created_at, expires_at)
        self.delete(key)
        self._make_room(len(data))
        data_path, meta_path = self._paths(key)
        _atomic_write(data_path, data)
        _atomic_write(meta_path, json.dumps(asdict(entry), sort_keys=True).encode())
        self._entries[key] = entry
        return True

    def read(self, key: str) -> bytes | None:
        """The bytes under `key`, checked against their digest; None (and the entry dropped) if missing or bad."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        data_path, _ = self._paths(key)
        try:
            data = data_path.read_bytes()
        except FileNotFoundError:
            data = None
        if data is None or hashlib.sha256(data).hexdigest() != entry.sha256:
            self.corrupt_dropped += 1
            self.delete(key)
            return None
        os.utime(data_path)  # recency for the tier's own eviction
        return data

    def delete(self, key: str) -> None:
        """Remove `key` if present (sidecar first, so a crash in between leaves an orphan, not a lie)."""
        self._entries.pop(key, None)
        data_path, meta_path = self._paths(key)
        meta_path.unlink(missing_ok=True)
        data_path.unlink(missing_ok=True)

    def _paths(self, key: str) -> tuple[Path, Path]:
        name = hashlib.sha256(key.encode()).hexdigest()
        return self.directory / f"{name}.bin", self.directory / f"{name}.json"

    def _make_room(self, incoming: int) -> None:
        if self.capacity is None:
            return
        by_age = sorted(self._entries, key=lambda k: self._mtime(k))
        while by_age and self.used + incoming > self.capacity:
            self.delete(by_age.pop(0))

    def _mtime(self, key: str) -> float:
        try:
            return self._paths(key)[0].stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def _scan(self) -> None:
        """Rebuild the index from the sidecars; orphans and unreadable sidecars are removed."""
        for meta_path in self.directory.glob("*.json"):
            try:
                entry = DiskEntry(**json.loads(meta_path.read_bytes()))
            except (ValueError, TypeError):
                meta_path.unlink(missing_ok=True)
                meta_path.with_suffix(".bin").unlink(missing_ok=True)
                self.corrupt_dropped += 1
                continue
            if self._paths(entry.key)[1] != meta_path or not meta_path.with_suffix(".bin").exists():
                meta_path.unlink(missing_ok=True)
                self.corrupt_dropped += 1
                continue
            self._entries[entry.key] = entry
        known = {self._paths(k)[0] for k in self._entries}
        for data_path in self.directory.glob("*.bin"):
            if data_path not in known:
                data_path.unlink(missing_ok=True)  # data written, sidecar never: a crash mid-write
        for tmp in self.directory.glob("*.tmp"):
            tmp.unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
