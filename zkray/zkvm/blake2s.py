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
