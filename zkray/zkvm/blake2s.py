"""BLAKE2s-256 (RFC 7693) compiled for hashing many Merkle leaves and nodes at once.

Why BLAKE2s: it is the fastest standard 256-bit hash in portable code, hashlib ships it (the naive twin
and the verifier use hashlib, so a bug here cannot make a proof verify), and its personalisation field
gives leaves and inner nodes separate domains without an extra block. Measured on this 2-core machine:
hashlib in a Python loop hashes 2^20 leaves in ~1 s; this kernel does it in a fraction (bench/).
"""

from __future__ import annotations

import hashlib

import numba
import numpy as np

_MASK = np.uint64(0xFFFFFFFF)
IV = np.array(
    [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19],
    dtype=np.uint64,
)
SIGMA = np.array(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    ],
    dtype=np.int64,
)

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


@numba.njit(cache=True, inline="always")
def _rotr(x: int, n: int) -> int:
    return ((x >> np.uint64(n)) | (x << np.uint64(32 - n))) & _MASK


@numba.njit(cache=True)
def _compress(h: np.ndarray, m: np.ndarray, v: np.ndarray, t: int, last: bool) -> None:
    for i in range(8):
        v[i] = h[i]
        v[i + 8] = IV[i]
    v[12] ^= np.uint64(t) & _MASK
    v[13] ^= np.uint64(t) >> np.uint64(32)
    if last:
        v[14] ^= _MASK
    for r in range(10):
        s = SIGMA[r]
        for g in range(8):
            if g < 4:
                a, b, c, d = g, g + 4, g + 8, g + 12
            elif g == 4:
                a, b, c, d = 0, 5, 10, 15
            elif g == 5:
                a, b, c, d = 1, 6, 11, 12
            elif g == 6:
                a, b, c, d = 2, 7, 8, 13
            else:
                a, b, c, d = 3, 4, 9, 14
            x = m[s[2 * g]]
            y = m[s[2 * g + 1]]
            v[a] = (v[a] + v[b] + x) & _MASK
            v[d] = _rotr(v[d] ^ v[a], 16)
            v[c] = (v[c] + v[d]) & _MASK
            v[b] = _rotr(v[b] ^ v[c], 12)
            v[a] = (v[a] + v[b] + y) & _MASK
            v[d] = _rotr(v[d] ^ v[a], 8)
            v[c] = (v[c] + v[d]) & _MASK
            v[b] = _rotr(v[b] ^ v[c], 7)
    for i in range(8):
        h[i] ^= v[i] ^ v[i + 8]


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
        v = np.empty(16, dtype=np.uint64)
        for row in range(ci * chunk, min(n, (ci + 1) * chunk)):
            for i in range(8):
                h[i] = h0[i]
            for blk in range(nblocks):
                for i in range(16):
                    j = blk * 16 + i
                    m[i] = np.uint64(words[row, j]) if j < w else np.uint64(0)
                is_last = blk == nblocks - 1
                t = nbytes if is_last else (blk + 1) * 64
                _compress(h, m, v, t, is_last)
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
