"""Merkle commitments to matrices (one leaf per row) with compact multi-openings.

The prover builds whole trees with the compiled BLAKE2s kernel; the verifier recomputes the few paths
it needs with hashlib, so the two share no hashing code. A multi-opening lists, level by level from the
leaves up, only the siblings the verifier cannot compute itself, in increasing index order; the verifier
knows exactly how many to expect from the indices alone, so a proof with a node too many or too few is
malformed, not merely wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from zkray.zkvm import blake2s
from zkray.zkvm.errors import VerificationError


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
    hasher = backend if backend is not None else blake2s
    levels = [hasher.hash_leaves(rows)]
    while levels[-1].shape[0] > 1:
        levels.append(hasher.hash_nodes(levels[-1]))
    return MerkleTree(rows=rows, levels=tuple(levels))


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
