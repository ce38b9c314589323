"""The Fiat–Shamir transcript: one object that prover and verifier drive through the same calls.

Every absorb is framed (label length, label, data length, data) so two different sequences of messages
never hash alike, and the state starts from a protocol tag, so a transcript of one protocol or version
cannot be replayed as another. Challenges are squeezed by hashing the state with a counter; field
elements are sampled by rejection (uniform, no modular bias).
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

from zkray.zkvm import blake2s
from zkray.zkvm import field as F

_PERSON = b"zkr-fs"
_GRIND_TAG = b"grind..."  # 8 bytes: keeps the nonce word-aligned for the compiled search
_MAX_REJECTIONS = 1000  # P(one 31-bit draw is rejected) ≈ 6 %, so 1000 in a row never happens honestly


def _h(data: bytes) -> bytes:
    return hashlib.blake2s(data, person=_PERSON).digest()


class Transcript:
    """Duplex-style hash chain. Prover and verifier must make the same calls in the same order."""

    def __init__(self, protocol: bytes) -> None:
        self._state = _h(b"zkray transcript v1|" + protocol)
        self._counter = 0

    @property
    def state(self) -> bytes:
        return self._state

    def absorb(self, label: bytes, data: bytes) -> None:
        frame = struct.pack("<I", len(label)) + label + struct.pack("<Q", len(data)) + data
        self._state = _h(self._state + frame)
        self._counter = 0

    def absorb_field(self, label: bytes, values: np.ndarray | list[int]) -> None:
        self.absorb(label, np.ascontiguousarray(values, dtype="<u4").tobytes())

    def _squeeze(self) -> bytes:
        out = _h(self._state + b"squeeze" + struct.pack("<Q", self._counter))
        self._counter += 1
        return out

    def _sample_u31s(self, count: int) -> list[int]:
        values: list[int] = []
        for _ in range(_MAX_REJECTIONS):
            block = self._squeeze()
            for (word,) in struct.iter_unpack("<I", block):
                candidate = word & 0x7FFFFFFF
                if candidate < F.P:
                    values.append(candidate)
                    if len(values) == count:
                        return values
        raise RuntimeError("transcript rejection sampling did not terminate")  # probability ~0

    def challenge_base(self, label: bytes) -> int:
        self.absorb(b"challenge", label)
        return self._sample_u31s(1)[0]

    def challenge_ext(self, label: bytes) -> np.ndarray:
        self.absorb(b"challenge", label)
        return np.array(self._sample_u31s(4), dtype=np.uint32)

    def challenge_indices(self, label: bytes, count: int, log_domain: int) -> list[int]:
        """`count` query positions in [0, 2^log_domain), sampled with replacement."""
        self.absorb(b"challenge", label)
        mask = (1 << log_domain) - 1
        out: list[int] = []
        while len(out) < count:
            for (word,) in struct.iter_unpack("<I", self._squeeze()):
                out.append(word & mask)
        return out[:count]

    def grind(self, bits: int, max_nonce: int = 1 << 40) -> int:
        """Find the smallest nonce whose hash with the state has `bits` leading zero bits (proof of work).

        The search runs in the compiled BLAKE2s kernel (~20x faster than hashlib in a loop); the check
        (`check_grind`, what the verifier runs) uses hashlib, and so does this fallback."""
        if bits == 0:
            return 0
        nonce = blake2s.grind(self._state + _GRIND_TAG, _PERSON, bits, max_nonce)
        if nonce is not None and self._pow_ok(bits, nonce):
            return nonce
        for nonce in range(max_nonce):
            if self._pow_ok(bits, nonce):
                return nonce
        raise RuntimeError("grinding exhausted its nonce range")

    def _pow_ok(self, bits: int, nonce: int) -> bool:
        digest = _h(self._state + _GRIND_TAG + struct.pack("<Q", nonce))
        return int.from_bytes(digest[:8], "big") >> (64 - bits) == 0

    def check_grind(self, bits: int, nonce: int) -> bool:
        return bits == 0 or self._pow_ok(bits, nonce)
