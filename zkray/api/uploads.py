"""Uploaded inputs and receipts, per key, bounded in count and bytes (the oldest are forgotten first).

Bonsai hands out a URL and an id (`GET /inputs/upload`), then takes the bytes by PUT. A slot is
reserved at the GET and filled once: a second PUT to a filled slot changes nothing, as in Bento.
In memory: the node swaps in its blob store when inputs must survive a restart.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict


class UploadStore:
    """`owner -> id -> bytes | None (reserved, not yet PUT)`, at most `max_items` ids and `max_bytes` per owner."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._slots: dict[str, OrderedDict[str, bytes | None]] = {}
        self._bytes: dict[str, int] = {}

    def reserve(self, owner: str) -> str:
        slots = self._slots.setdefault(owner, OrderedDict())
        while len(slots) >= self._max_items:
            self._evict_oldest(owner)
        upload_id = str(uuid.uuid4())
        slots[upload_id] = None
        return upload_id

    def is_reserved(self, owner: str, upload_id: str) -> bool:
        return upload_id in self._slots.get(owner, {})

    def put(self, owner: str, upload_id: str, data: bytes) -> bool:
        """Fill a reserved slot; False if it was already filled (the first upload is kept)."""
        slots = self._slots[owner]
        if slots[upload_id] is not None:
            return False
        while self._bytes.get(owner, 0) + len(data) > self._max_bytes and len(slots) > 1:
            self._evict_oldest(owner, keep=upload_id)
        slots[upload_id] = data
        self._bytes[owner] = self._bytes.get(owner, 0) + len(data)
        return True

    def get(self, owner: str, upload_id: str) -> bytes | None:
        return self._slots.get(owner, {}).get(upload_id)

    def delete(self, owner: str, upload_id: str) -> bool:
        slots = self._slots.get(owner, {})
        if upload_id not in slots:
            return False
        data = slots.pop(upload_id)
        if data:
            self._bytes[owner] -= len(data)
        return True

    def _evict_oldest(self, owner: str, keep: str | None = None) -> None:
        slots = self._slots[owner]
        for upload_id in slots:
            if upload_id != keep:
                data = slots.pop(upload_id)
                self._bytes[owner] = self._bytes.get(owner, 0) - (len(data) if data else 0)
                return
