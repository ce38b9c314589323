"""BLAKE2s-256 (RFC 7693) compiled for hashing many Merkle leaves and nodes at once.

Why BLAKE2s: it is the fastest standard 256-bit hash in portable code, hashlib ships it (the naive twin
and the verifier use hashlib, so a bug here cannot make a proof verify), and its personalisation field
gives leaves and inner nodes separate domains without an extra block. The compression function is
generated unrolled (`scripts/gen_blake2s_rounds.py`), ~3.5x faster than its loop form under numba.
Measured on this 2-core machine: hashlib in a Python loop hashes 2^18 leaves of 36 elements in ~0.6 s;
this kernel in ~0.1 s (docs/stark.md).
"""

from __future__ import annotations

import hashlib

import numba
import numpy as np

from zkray.zkvm._blake2s_rounds import IV, compress

LEAF_PERSON = b"zkr-leaf"
NODE_PERSON = b"zkr-node"


def _person_words(person: bytes) -> tuple[int, int]:
    padded = person.ljust(8, b"\0")
    return int.from_bytes(padded[:4], "little"), int.from_bytes(padded[4:], "little")


def initial_state(person: bytes) -> np.ndarray:
    """h0 after the parameter block: 32-byte digest, no key, fanout 1, depth 1, personalisation."""
    h = IV.copy()
    h[0] ^= np.uint64(0x01010020)
    p0, p1 = _person_words(person)
    h[6] ^= np.uint64(p0)
    h[7] ^= np.uint64(p1)
    return h


@numba.njit(cache=True, parallel=True)
def hash_rows(words: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """BLAKE2s of each row of a (n, w) uint32 array, read as 4·w little-endian bytes; returns (n, 8)."""
    n, w = words.shape
    out = np.empty((n, 8), dtype=np.uint32)
    nbytes = 4 * w
    nblocks = max(1, (w + 15) // 16)
    chunk = 256
    nchunks = (n + chunk - 1) // chunk
    for ci in numba.prange(nchunks):
        h = np.empty(8, dtype=np.uint64)
        m = np.empty(16, dtype=np.uint64)
        for row in range(ci * chunk, min(n, (ci + 1) * chunk)):
            for i in range(8):
                h[i] = h0[i]
            for blk in range(nblocks):
                for i in range(16):
                    j = blk * 16 + i
                    m[i] = np.uint64(words[row, j]) if j < w else np.uint64(0)
                is_last = blk == nblocks - 1
                t = nbytes if is_last else (blk + 1) * 64
                compress(h, m, t, is_last)
            for i in range(8):
                out[row, i] = np.uint32(h[i])
    return out


_LEAF_H0 = initial_state(LEAF_PERSON)
_NODE_H0 = initial_state(NODE_PERSON)


def hash_leaves(rows: np.ndarray) -> np.ndarray:
    """Leaf digests of a (n, w) uint32 matrix (one leaf per row), as (n, 8) uint32 words."""
    return hash_rows(np.ascontiguousarray(rows, dtype=np.uint32), _LEAF_H0)


def hash_nodes(children: np.ndarray) -> np.ndarray:
    """Parent digests of a (2k, 8) array of child digests, pairing rows 2i and 2i+1."""
    pairs = np.ascontiguousarray(children, dtype=np.uint32).reshape(-1, 16)
    return hash_rows(pairs, _NODE_H0)


def leaf_digest(row_bytes: bytes) -> bytes:
    """The reference leaf hash (hashlib); what the verifier uses."""
    return hashlib.blake2s(row_bytes, person=LEAF_PERSON).digest()


def node_digest(left: bytes, right: bytes) -> bytes:
    """The reference inner-node hash (hashlib); what the verifier uses."""
    return hashlib.blake2s(left + right, person=NODE_PERSON).digest()


@numba.njit(cache=True)
def _grind_range(block: np.ndarray, nbytes: int, h0: np.ndarray, nonce_word: int, bits: int, start: int,
                 count: int) -> int:
    """First nonce in [start, start+count) whose one-block BLAKE2s has `bits` leading zero bits, or -1.

    `block` holds the 16 message words with the nonce's 8 little-endian bytes starting at word
    `nonce_word` (the prefix is padded so the nonce is word-aligned)."""
    h = np.empty(8, dtype=np.uint64)
    m = np.empty(16, dtype=np.uint64)
    for i in range(16):
        m[i] = np.uint64(block[i])
    for nonce in range(start, start + count):
        m[nonce_word] = np.uint64(nonce & 0xFFFFFFFF)
        m[nonce_word + 1] = np.uint64((nonce >> 32) & 0xFFFFFFFF)
        for i in range(8):
            h[i] = h0[i]
        compress(h, m, nbytes, True)
        # The digest's first 8 bytes, read big-endian, are bytes of words 0 and 1 (little-endian words).
        w0 = h[0]
        w1 = h[1]
        b = np.uint64(0)
        for k in range(4):
            b = (b << np.uint64(8)) | ((w0 >> np.uint64(8 * k)) & np.uint64(0xFF))
        for k in range(4):
            b = (b << np.uint64(8)) | ((w1 >> np.uint64(8 * k)) & np.uint64(0xFF))
        if (b >> np.uint64(64 - bits)) == 0:
            return nonce
    return -1


def grind(prefix: bytes, person: bytes, bits: int, max_nonce: int) -> int | None:
    """Smallest nonce with BLAKE2s(prefix || u64le(nonce), person) starting with `bits` zero bits.

    Only for prefixes that leave the nonce word-aligned inside one 64-byte block; returns None when the
    prefix does not fit (the caller then falls back to hashlib)."""
    if len(prefix) % 4 or len(prefix) + 8 > 64 or not 1 <= bits <= 63:
        return None
    data = prefix + bytes(8)
    block = np.frombuffer(data.ljust(64, b"\0"), dtype="<u4").astype(np.uint32)
    h0 = initial_state(person)
    step = 1 << 16
    for start in range(0, max_nonce, step):
        found = _grind_range(block, len(data), h0, len(prefix) // 4, bits, start, min(step, max_nonce - start))
        if found >= 0:
            return int(found)
    return None
