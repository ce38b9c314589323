"""Canonical little-endian encoding with a strict, bounded reader.

Every decoder in the proof system reads through `Reader`, which checks each length against the bytes
left *before* allocating, rejects non-canonical field elements, and reports the field it was reading;
so malformed input yields a `ReceiptError` naming the problem, never an exception from deep inside
numpy, a huge allocation or a hang.
"""

from __future__ import annotations

import struct

import numpy as np

from zkray.zkvm import field as F
from zkray.zkvm.errors import ReceiptError


class Writer:
    """Appends canonical encodings; `bytes()` returns the result."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, v: int) -> None:
        self._parts.append(struct.pack("<B", v))

    def u16(self, v: int) -> None:
        self._parts.append(struct.pack("<H", v))

    def u32(self, v: int) -> None:
        self._parts.append(struct.pack("<I", v))

    def u64(self, v: int) -> None:
        self._parts.append(struct.pack("<Q", v))

    def raw(self, data: bytes) -> None:
        self._parts.append(bytes(data))

    def blob(self, data: bytes) -> None:
        self.u32(len(data))
        self.raw(data)

    def field(self, values: np.ndarray) -> None:
        """Field elements with no length prefix: the reader knows the shape from context."""
        self._parts.append(np.ascontiguousarray(values, dtype="<u4").tobytes())

    def digests(self, items: list[bytes]) -> None:
        self.u32(len(items))
        for d in items:
            if len(d) != 32:
                raise ValueError("digest must be 32 bytes")
            self._parts.append(d)

    def __bytes__(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Consumes a byte string; every method raises ReceiptError with `what` on malformed input."""

    def __init__(self, data: bytes, context: str) -> None:
        self._data = memoryview(bytes(data))
        self._pos = 0
        self._context = context

    def _fail(self, what: str, why: str) -> ReceiptError:
        return ReceiptError(f"{self._context}: {what}: {why} (at byte {self._pos} of {len(self._data)})")

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def raw(self, n: int, what: str) -> bytes:
        if n < 0 or n > self.remaining():
            raise self._fail(what, f"needs {n} bytes, {self.remaining()} left (truncated?)")
        out = bytes(self._data[self._pos : self._pos + n])
        self._pos += n
        return out

    def u8(self, what: str) -> int:
        return self.raw(1, what)[0]

    def u16(self, what: str) -> int:
        return int(struct.unpack("<H", self.raw(2, what))[0])

    def u32(self, what: str) -> int:
        return int(struct.unpack("<I", self.raw(4, what))[0])

    def u64(self, what: str) -> int:
        return int(struct.unpack("<Q", self.raw(8, what))[0])

    def bounded(self, what: str, lo: int, hi: int) -> int:
        v = self.u32(what)
        if not lo <= v <= hi:
            raise self._fail(what, f"value {v} outside [{lo}, {hi}]")
        return v

    def blob(self, what: str, max_len: int) -> bytes:
        n = self.u32(f"{what} length")
        if n > max_len:
            raise self._fail(what, f"length {n} exceeds the limit {max_len}")
        return self.raw(n, what)

    def field(self, shape: tuple[int, ...], what: str) -> np.ndarray:
        count = int(np.prod(shape)) if shape else 1
        raw = self.raw(4 * count, what)
        arr = np.frombuffer(raw, dtype="<u4").astype(np.uint32).reshape(shape)
        if arr.size and int(arr.max()) >= F.P:
            raise self._fail(what, "non-canonical field element (>= p)")
        return arr

    def digests(self, what: str, expected: int | None = None, max_count: int = 1 << 20) -> list[bytes]:
        n = self.u32(f"{what} count")
        if expected is not None and n != expected:
            raise self._fail(what, f"expected {expected} digests, found {n}")
        if n > max_count or 32 * n > self.remaining():
            raise self._fail(what, f"{n} digests do not fit in the remaining bytes")
        return [self.raw(32, what) for _ in range(n)]

    def digest(self, what: str) -> bytes:
        return self.raw(32, what)

    def finish(self) -> None:
        if self.remaining():
            raise self._fail("end", f"{self.remaining()} trailing bytes")
