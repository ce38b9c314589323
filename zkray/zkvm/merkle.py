"""Merkle commitments to matrices (one leaf per row) with compact multi-openings.

The prover builds whole trees with a compiled BLAKE2s that hashes 64 leaves at once, one SIMD lane per
leaf (`_hash_columns`: the committed matrices are stored column-major, so lane l of message word i is
column i at row l, a contiguous load, and no transposed copy of the LDE is made); the verifier recomputes
the few paths it needs with hashlib, so the two share no hashing code. A multi-opening lists, level by level from the
leaves up, only the siblings the verifier cannot compute itself, in increasing index order; the verifier
knows exactly how many to expect from the indices alone, so a proof with a node too many or too few is
malformed, not merely wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numba
import numpy as np

from zkray.zkvm import blake2s
from zkray.zkvm.errors import VerificationError

_SIGMA = np.array([
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4], [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13], [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11], [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5], [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
], dtype=np.int64)
"""RFC 7693 message schedule."""
_IV = blake2s.IV.astype(np.uint32)
_LEAF_H0 = blake2s.initial_state(blake2s.LEAF_PERSON).astype(np.uint32)
_NODE_H0 = blake2s.initial_state(blake2s.NODE_PERSON).astype(np.uint32)
_LANES = 64  # leaves hashed together: 64 × 4 bytes per state word, a few AVX-512 registers


@numba.njit(cache=True, error_model="numpy", inline="always")
def _g(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """BLAKE2s G on every lane (each np.uint32(...) truncates numba's 64-bit integer arithmetic)."""
    for lane in range(a.shape[0]):
        va = np.uint32(a[lane] + b[lane] + x[lane])
        vd = np.uint32(d[lane] ^ va)
        vd = np.uint32((vd >> np.uint32(16)) | (vd << np.uint32(16)))
        vc = np.uint32(c[lane] + vd)
        vb = np.uint32(b[lane] ^ vc)
        vb = np.uint32((vb >> np.uint32(12)) | (vb << np.uint32(20)))
        va = np.uint32(va + vb + y[lane])
        vd = np.uint32(vd ^ va)
        vd = np.uint32((vd >> np.uint32(8)) | (vd << np.uint32(24)))
        vc = np.uint32(vc + vd)
        vb = np.uint32(vb ^ vc)
        vb = np.uint32((vb >> np.uint32(7)) | (vb << np.uint32(25)))
        a[lane], b[lane], c[lane], d[lane] = va, vb, vc, vd


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _hash_columns(mat: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """BLAKE2s-256 (initial state h0) of each column of a (w, n) uint32 matrix read as 4·w little-endian
    bytes: out[i] = H(mat[:, i]), as (n, 8) words. Lanes past n hash zeros and are dropped."""
    w, n = mat.shape
    out = np.empty((n, 8), dtype=np.uint32)
    nbytes = 4 * w
    nblocks = max(1, (w + 15) // 16)
    for g in numba.prange((n + _LANES - 1) // _LANES):
        lo = g * _LANES
        cnt = min(_LANES, n - lo)
        h = np.empty((8, _LANES), dtype=np.uint32)
        v = np.empty((16, _LANES), dtype=np.uint32)
        m = np.zeros((16, _LANES), dtype=np.uint32)
        for i in range(8):
            h[i, :] = h0[i]
        for blk in range(nblocks):
            for i in range(16):
                j = blk * 16 + i
                if j < w:
                    m[i, :cnt] = mat[j, lo : lo + cnt]
                else:
                    m[i, :] = 0
            last = blk == nblocks - 1
            t = nbytes if last else (blk + 1) * 64
            for i in range(8):
                v[i, :] = h[i, :]
                v[i + 8, :] = _IV[i]
            v[12, :] ^= np.uint32(t & 0xFFFFFFFF)
            v[13, :] ^= np.uint32(t >> 32)
            if last:
                v[14, :] ^= np.uint32(0xFFFFFFFF)
            for r in range(10):
                s = _SIGMA[r]
                _g(v[0], v[4], v[8], v[12], m[s[0]], m[s[1]])
                _g(v[1], v[5], v[9], v[13], m[s[2]], m[s[3]])
                _g(v[2], v[6], v[10], v[14], m[s[4]], m[s[5]])
                _g(v[3], v[7], v[11], v[15], m[s[6]], m[s[7]])
                _g(v[0], v[5], v[10], v[15], m[s[8]], m[s[9]])
                _g(v[1], v[6], v[11], v[12], m[s[10]], m[s[11]])
                _g(v[2], v[7], v[8], v[13], m[s[12]], m[s[13]])
                _g(v[3], v[4], v[9], v[14], m[s[14]], m[s[15]])
            for i in range(8):
                for lane in range(_LANES):
                    h[i, lane] = h[i, lane] ^ v[i, lane] ^ v[i + 8, lane]
        for lane in range(cnt):
            for i in range(8):
                out[lo + lane, i] = h[i, lane]
    return out


def hash_leaves(rows: np.ndarray) -> np.ndarray:
    """(n, 8) leaf digests of an (n, w) matrix, one leaf per row; free of copies when `rows` is the
    transpose of a C-contiguous (w, n) matrix (how the provers hand over their LDEs)."""
    return _hash_columns(np.ascontiguousarray(np.asarray(rows, dtype=np.uint32).T), _LEAF_H0)


def hash_nodes(children: np.ndarray) -> np.ndarray:
    """(k, 8) parent digests of (2k, 8) children, pairing rows 2i and 2i+1."""
    pairs = np.asarray(children, dtype=np.uint32).reshape(-1, 16)
    return _hash_columns(np.ascontiguousarray(pairs.T), _NODE_H0)


class HashBackend(Protocol):
    def hash_leaves(self, rows: np.ndarray) -> np.ndarray: ...
    def hash_nodes(self, children: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class MerkleTree:
    """A committed matrix: its rows (leaves) and every level of digests, leaves first."""

    rows: np.ndarray  # (n, w) uint32 view of the committed matrix, one leaf per row
    levels: tuple[np.ndarray, ...]  # levels[0] = leaf digests (n, 8); levels[-1] = root (1, 8)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0].tobytes()

    @property
    def height(self) -> int:
        return len(self.levels) - 1

    def open(self, indices: list[int]) -> tuple[np.ndarray, list[bytes]]:
        """Rows at the sorted unique `indices` and the multi-opening siblings."""
        idx = sorted(set(indices))
        rows = np.asarray(self.rows[idx], dtype=np.uint32)
        siblings: list[bytes] = []
        level_idx = idx
        for level in self.levels[:-1]:
            known = set(level_idx)
            for i in level_idx:
                if i ^ 1 not in known:
                    siblings.append(level[i ^ 1].tobytes())
            level_idx = sorted({i >> 1 for i in level_idx})
        return rows, siblings


def commit(rows: np.ndarray, backend: HashBackend | None = None) -> MerkleTree:
    """Commit to an (n, w) matrix, n a power of two."""
    n = rows.shape[0]
    if n == 0 or n & (n - 1):
        raise ValueError(f"a Merkle tree needs a power-of-two number of leaves, got {n}")
    hasher = backend if backend is not None else _LANES_HASHER
    levels = [hasher.hash_leaves(rows)]
    while levels[-1].shape[0] > 1:
        levels.append(hasher.hash_nodes(levels[-1]))
    return MerkleTree(rows=rows, levels=tuple(levels))


class _LanesHasher:
    hash_leaves = staticmethod(hash_leaves)
    hash_nodes = staticmethod(hash_nodes)


_LANES_HASHER = _LanesHasher()


def sibling_count(indices: list[int], height: int) -> int:
    """How many siblings a multi-opening of `indices` carries (lets decoders size the proof exactly)."""
    level_idx = sorted(set(indices))
    count = 0
    for _ in range(height):
        known = set(level_idx)
        count += sum(1 for i in level_idx if i ^ 1 not in known)
        level_idx = sorted({i >> 1 for i in level_idx})
    return count


def verify(root: bytes, height: int, indices: list[int], rows: np.ndarray, siblings: list[bytes]) -> None:
    """Check that `rows` sit at `indices` under `root`; raises VerificationError naming the failure."""
    idx = sorted(set(indices))
    if len(idx) != len(rows):
        raise VerificationError(f"Merkle opening has {len(rows)} rows for {len(idx)} indices")
    if any(i < 0 or i >= (1 << height) for i in idx):
        raise VerificationError("Merkle opening index out of range")
    nodes = {i: blake2s.leaf_digest(np.asarray(r, dtype="<u4").tobytes()) for i, r in zip(idx, rows, strict=True)}
    it = iter(siblings)
    used = 0
    for _ in range(height):
        parents: dict[int, bytes] = {}
        for i in sorted(nodes):
            if i & 1 and i ^ 1 in nodes:
                continue  # already combined with its left sibling
            if i ^ 1 in nodes:
                sib = nodes[i ^ 1]
            else:
                sib = next(it, None)  # type: ignore[arg-type]
                if sib is None:
                    raise VerificationError("Merkle opening is missing sibling nodes")
                used += 1
            left, right = (nodes[i], sib) if i & 1 == 0 else (sib, nodes[i])
            parents[i >> 1] = blake2s.node_digest(left, right)
        nodes = parents
    if used != len(siblings):
        raise VerificationError("Merkle opening carries unused sibling nodes")
    if nodes.get(0) != root:
        raise VerificationError("Merkle opening does not match the committed root")
