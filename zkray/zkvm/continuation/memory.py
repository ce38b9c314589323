"""Guest memory as a sparse binary Merkle tree of SHA-256, so segments can chain memory without carrying it.

The tree has one leaf per 32-bit word of guest memory (2^26 words for the 2^28-byte address space; leaf
index = byte address / 4). Hashes are domain-separated as in RFC 6962, so a leaf can never be passed off
as an inner node or the reverse:

    leaf(w)    = SHA-256(0x00 ‖ w as 4 little-endian bytes)
    node(l, r) = SHA-256(0x01 ‖ l ‖ r)

Almost all of memory is zero, so the zero subtree of each height is precomputed (`zero_subtree(h)`) and
only the paths above non-zero words are hashed: building the root of a memory costs about
(non-zero words) · 2 + 26 · (clusters of them) hashes, not 2^27.

A *multi-address witness* for a sorted set of leaves is the list of sibling hashes, bottom level first and
left to right within a level, that the verifier cannot compute from the leaves themselves (`witness`).
Siblings that are zero subtrees travel as `None` (a bit in the seal, not 32 bytes). `root_from_witness`
recomputes the root from (address, value) pairs and the siblings; it consumes every sibling exactly once
and refuses a witness that is short, long, or spells out a zero subtree explicitly (so each statement has
one witness). With the same siblings, the `before` values give the root of the start memory and the
`after` values the root of the end memory: a segment changes only the words it touches.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from zkray.zkvm.elf import MEMORY_END, Program
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.rv32im.image import image_id as image_id_of

DEPTH = 26  # 2^26 words = the 2^28-byte guest address space
assert 4 << DEPTH == MEMORY_END
_LEAF, _NODE = b"\x00", b"\x01"
_PAGE_WORDS = 1 << 10  # 4 KiB pages: the executor's zero pages are skipped a page at a time

Sibling = bytes | None  # None: the zero subtree of that level


def leaf_hash(value: int) -> bytes:
    return hashlib.sha256(_LEAF + (value & 0xFFFF_FFFF).to_bytes(4, "little")).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def _zero_subtrees(depth: int) -> list[bytes]:
    out = [leaf_hash(0)]
    for _ in range(depth):
        out.append(node_hash(out[-1], out[-1]))
    return out


_ZERO = _zero_subtrees(DEPTH)


def zero_subtree(height: int) -> bytes:
    """Root of a subtree of 2^height zero words."""
    return _ZERO[height]


def memory_words(mem: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(word indices, values) of the non-zero words of a guest memory (uint8 array, 4·2^depth bytes).

    Pages are tested first: the executor's untouched pages are the OS's shared zero page, so this scans
    256 MiB without committing it (~0.1 s), then looks for words only inside live pages.
    """
    if mem.dtype != np.uint8 or mem.ndim != 1 or mem.size % (4 * _PAGE_WORDS):
        raise ValueError("memory must be a flat uint8 array of whole 4 KiB pages")
    words = mem.view("<u4")
    pages = words.reshape(-1, _PAGE_WORDS)
    live = np.flatnonzero(pages.any(axis=1))
    idx = (live[:, None] * _PAGE_WORDS + np.arange(_PAGE_WORDS)[None, :]).ravel()
    vals = pages[live].ravel()
    keep = vals != 0
    return idx[keep].astype(np.int64), vals[keep].astype(np.uint32)


def image_words(program: Program) -> tuple[np.ndarray, np.ndarray]:
    """(word indices, values) of the non-zero words of the loaded image, built from the segments alone
    (equal to `memory_words(initial_memory(program))` without touching a 256 MiB array)."""
    idx_parts, val_parts = [np.zeros(0, np.int64)], [np.zeros(0, np.uint32)]
    for seg in program.segments:
        start = seg.address & ~3
        pad = seg.address - start
        buf = np.zeros(-(-(pad + len(seg.data)) // 4) * 4, dtype=np.uint8)
        buf[pad:pad + len(seg.data)] = np.frombuffer(seg.data, dtype=np.uint8)
        idx_parts.append(start // 4 + np.arange(buf.size // 4, dtype=np.int64))
        val_parts.append(buf.view("<u4").astype(np.uint32))
    idx, vals = np.concatenate(idx_parts), np.concatenate(val_parts)
    order = np.argsort(idx, kind="stable")
    idx, vals = idx[order], vals[order]
    # two segments may share a word (an unaligned boundary): their bytes are disjoint, so OR merges them
    first = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]]) if idx.size else np.zeros(0, np.int64)
    idx, vals = idx[first], np.bitwise_or.reduceat(vals, first) if idx.size else vals
    keep = vals != 0
    return idx[keep], vals[keep].astype(np.uint32)


class SparseTree:
    """Every non-zero node of the tree over a memory: level h maps node index -> hash (absent = zero)."""

    def __init__(self, indices: np.ndarray, values: np.ndarray, depth: int = DEPTH) -> None:
        self.depth = depth
        self._zero = _ZERO if depth <= DEPTH else _zero_subtrees(depth)
        level = {int(i): leaf_hash(int(v)) for i, v in zip(indices.tolist(), values.tolist(), strict=True) if v}
        if any(not 0 <= i < 1 << depth for i in level):
            raise ValueError(f"a word index is outside the 2^{depth}-word memory")
        self.levels: list[dict[int, bytes]] = [level]
        for h in range(depth):
            z = self._zero[h]
            parents = sorted({i >> 1 for i in level})
            level = {p: node_hash(level.get(2 * p, z), level.get(2 * p + 1, z)) for p in parents}
            self.levels.append(level)

    @classmethod
    def of_memory(cls, mem: np.ndarray, depth: int = DEPTH) -> SparseTree:
        if mem.size != 4 << depth:
            raise ValueError(f"memory of {mem.size} bytes is not 4·2^{depth}")
        return cls(*memory_words(mem), depth=depth)

    @property
    def root(self) -> bytes:
        return self.levels[self.depth].get(0, self._zero[self.depth])

    def witness(self, addresses: Sequence[int]) -> list[Sibling]:
        """The siblings `root_from_witness` needs for these word addresses (ascending, 4-aligned)."""
        known = _leaf_indices(addresses, self.depth)
        out: list[Sibling] = []
        for h in range(self.depth):
            for i, pair in _walk(known):
                if not pair:
                    out.append(self.levels[h].get(i ^ 1))
            known = sorted({i >> 1 for i in known})
        return out


def _leaf_indices(addresses: Sequence[int], depth: int) -> list[int]:
    """Word indices of strictly ascending, aligned in-range byte addresses; VerificationError otherwise."""
    out: list[int] = []
    for a in addresses:
        if a % 4 or not 0 <= a < 4 << depth:
            raise VerificationError(f"memory address {a:#x} is unaligned or outside guest memory")
        if out and a // 4 <= out[-1]:
            raise VerificationError(f"memory addresses are not strictly ascending at {a:#x}")
        out.append(a // 4)
    return out


def _walk(known: list[int]) -> list[tuple[int, bool]]:
    """Each known node with whether its sibling is known too (a pair is listed once, by its left node)."""
    out, j = [], 0
    while j < len(known):
        i = known[j]
        if i % 2 == 0 and j + 1 < len(known) and known[j + 1] == i + 1:
            out.append((i, True))
            j += 2
        else:
            out.append((i, False))
            j += 1
    return out


def root_from_witness(pairs: Sequence[tuple[int, int]], siblings: Sequence[Sibling], depth: int = DEPTH) -> bytes:
    """The memory root implied by (address, value) pairs and their siblings; VerificationError if the
    witness does not fit the addresses (too few or too many siblings, an explicit zero subtree)."""
    if not pairs:
        raise VerificationError("a memory witness needs at least one address")
    zero = _ZERO if depth <= DEPTH else _zero_subtrees(depth)
    known = _leaf_indices([a for a, _ in pairs], depth)
    hashes = {i: leaf_hash(v) for i, (_, v) in zip(known, pairs, strict=True)}
    k = 0
    for h in range(depth):
        parents: dict[int, bytes] = {}
        for i, pair in _walk(known):
            if pair:
                left, right = hashes[i], hashes[i + 1]
            else:
                if k == len(siblings):
                    raise VerificationError("memory witness is short of siblings")
                s = siblings[k]
                k += 1
                if s is None:
                    s = zero[h]
                elif s == zero[h]:
                    raise VerificationError(f"memory witness spells out a zero subtree at level {h} (not canonical)")
                left, right = (hashes[i], s) if i % 2 == 0 else (s, hashes[i])
            parents[i >> 1] = node_hash(left, right)
        known, hashes = sorted(parents), parents
    if k != len(siblings):
        raise VerificationError(f"memory witness has {len(siblings) - k} siblings more than its addresses use")
    return hashes[0]


_IMAGE_ROOTS: OrderedDict[bytes, bytes] = OrderedDict()
_IMAGE_ROOTS_MAX = 16


def image_root(program: Program) -> bytes:
    """Memory root of the loaded image, cached by image id (a small LRU: verifying many receipts of one
    program builds its tree once). The id is computed here, never taken from a caller, so a wrong id can
    never file one program's root under another's."""
    image_id = image_id_of(program)
    root = _IMAGE_ROOTS.get(image_id)
    if root is None:
        root = SparseTree(*image_words(program)).root
        _IMAGE_ROOTS[image_id] = root
        while len(_IMAGE_ROOTS) > _IMAGE_ROOTS_MAX:
            _IMAGE_ROOTS.popitem(last=False)
    else:
        _IMAGE_ROOTS.move_to_end(image_id)
    return root
