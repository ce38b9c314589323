"""The compiled BLAKE2s against hashlib, and Merkle multi-openings, honest and tampered."""

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkray.zkvm import blake2s, merkle
from zkray.zkvm.errors import VerificationError


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 70), st.integers(1, 9), st.integers(0, 2**31))
def test_leaf_kernel_matches_hashlib(width, rows, seed):
    rng = np.random.default_rng(seed)
    m = rng.integers(0, 2**32, (rows, width), dtype=np.uint64).astype(np.uint32)
    got = blake2s.hash_leaves(m)
    for i in range(rows):
        assert got[i].tobytes() == hashlib.blake2s(m[i].astype("<u4").tobytes(), person=b"zkr-leaf").digest()


def test_node_kernel_matches_hashlib():
    rng = np.random.default_rng(3)
    kids = rng.integers(0, 2**32, (16, 8), dtype=np.uint64).astype(np.uint32)
    got = blake2s.hash_nodes(kids)
    for i in range(8):
        ref = hashlib.blake2s(kids[2 * i].tobytes() + kids[2 * i + 1].tobytes(), person=b"zkr-node").digest()
        assert got[i].tobytes() == ref


def _tree(n=64, w=5, seed=1):
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 2**31, (n, w)).astype(np.uint32)
    return merkle.commit(rows)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 63), min_size=1, max_size=20))
def test_multi_opening_verifies_and_is_exactly_sized(indices):
    tree = _tree()
    rows, sibs = tree.open(indices)
    assert len(sibs) == merkle.sibling_count(indices, tree.height)
    merkle.verify(tree.root, tree.height, indices, rows, sibs)


def test_tampering_is_rejected():
    tree = _tree()
    idx = [3, 17, 40]
    rows, sibs = tree.open(idx)
    bad_rows = rows.copy()
    bad_rows[1, 2] ^= 1
    with pytest.raises(VerificationError, match="root"):
        merkle.verify(tree.root, tree.height, idx, bad_rows, sibs)
    bad_sibs = list(sibs)
    bad_sibs[0] = bytes(32)
    with pytest.raises(VerificationError):
        merkle.verify(tree.root, tree.height, idx, rows, bad_sibs)
    with pytest.raises(VerificationError, match="unused"):
        merkle.verify(tree.root, tree.height, idx, rows, [*sibs, bytes(32)])
    with pytest.raises(VerificationError, match="missing"):
        merkle.verify(tree.root, tree.height, idx, rows, sibs[:-1])
    with pytest.raises(VerificationError):
        merkle.verify(tree.root, tree.height, [3, 17, 41], rows, sibs)


def test_leaf_and_node_domains_differ():
    # A 16-word leaf must not hash like an inner node over the same 64 bytes.
    words = np.arange(16, dtype=np.uint32).reshape(1, 16)
    assert blake2s.hash_leaves(words)[0].tobytes() != blake2s.hash_nodes(words.reshape(2, 8))[0].tobytes()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 70), st.integers(1, 200), st.booleans(), st.integers(0, 2**31))
def test_lane_kernel_matches_hashlib(width, rows, column_major, seed):
    # 64 leaves per SIMD group: row counts around multiples of 64, widths around the 16-word block.
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, 2**32, (width, rows), dtype=np.uint64).astype(np.uint32)
    m = cols.T if column_major else np.ascontiguousarray(cols.T)  # the provers pass transposed LDEs
    got = merkle.hash_leaves(m)
    for i in range(rows):
        assert got[i].tobytes() == hashlib.blake2s(m[i].astype("<u4").tobytes(), person=b"zkr-leaf").digest()
    kids = rng.integers(0, 2**32, (2 * rows, 8), dtype=np.uint64).astype(np.uint32)
    parents = merkle.hash_nodes(kids)
    for i in range(rows):
        ref = hashlib.blake2s(kids[2 * i].tobytes() + kids[2 * i + 1].tobytes(), person=b"zkr-node").digest()
        assert parents[i].tobytes() == ref
