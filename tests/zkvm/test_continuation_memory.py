"""The sparse memory Merkle tree against a naive dense tree, witnesses honest and tampered, state digests."""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkray.zkvm.continuation import memory as M
from zkray.zkvm.continuation.state import check_boundary, initial_boundary, state_digest
from zkray.zkvm.elf import PF_R, PF_W, PF_X, Segment, load_elf, write_elf
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.rv32im.executor import initial_memory
from zkray.zkvm.rv32im.segment import Boundary, execute_segment, plan_segments

DEPTH = 6  # 64 words: small enough for a dense reference


def dense_root(words: list[int]) -> bytes:
    """The obviously correct tree: hash every leaf, then every pair, level by level."""
    level = [hashlib.sha256(b"\x00" + w.to_bytes(4, "little")).digest() for w in words]
    while len(level) > 1:
        level = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


def sparse(words: list[int]) -> M.SparseTree:
    idx = np.flatnonzero(np.array(words))
    return M.SparseTree(idx, np.array(words, dtype=np.uint32)[idx], depth=DEPTH)


memories = st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF_FFFF, 0x1234_5678]), min_size=64, max_size=64)


@settings(max_examples=60, deadline=None)
@given(memories)
def test_sparse_root_equals_the_dense_reference(words):
    assert sparse(words).root == dense_root(words)


def test_zero_subtrees_are_the_roots_of_zero_memories():
    assert dense_root([0] * 64) == M.zero_subtree(DEPTH)
    assert sparse([0] * 64).root == M.zero_subtree(DEPTH)


@settings(max_examples=60, deadline=None)
@given(memories, st.sets(st.integers(0, 63), min_size=1, max_size=12), st.integers(0, 2**32 - 1))
def test_witness_recomputes_the_root_before_and_after_a_change(words, touched, new):
    tree = sparse(words)
    addrs = [4 * i for i in sorted(touched)]
    sib = tree.witness(addrs)
    assert M.root_from_witness([(a, words[a // 4]) for a in addrs], sib, DEPTH) == dense_root(words)
    after = list(words)
    for i in touched:
        after[i] = new
    assert M.root_from_witness([(a, after[a // 4]) for a in addrs], sib, DEPTH) == dense_root(after)


def _setup():
    words = [0] * 64
    words[3], words[17], words[40], words[41] = 5, 6, 7, 8
    tree = sparse(words)
    addrs = [4 * 3, 4 * 40, 4 * 60]
    pairs = [(a, words[a // 4]) for a in addrs]
    return words, tree, addrs, pairs, tree.witness(addrs)


def test_tampered_witnesses_are_refused_or_give_another_root():
    words, _, addrs, pairs, sib = _setup()
    root = dense_root(words)
    assert M.root_from_witness(pairs, sib, DEPTH) == root
    assert any(s is not None for s in sib) and any(s is None for s in sib)
    with pytest.raises(VerificationError, match="short"):
        M.root_from_witness(pairs, sib[:-1], DEPTH)
    with pytest.raises(VerificationError, match="more than"):
        M.root_from_witness(pairs, [*sib, None], DEPTH)
    k = next(i for i, s in enumerate(sib) if s is None)
    with pytest.raises(VerificationError, match="zero subtree"):
        M.root_from_witness(pairs, [*sib[:k], M.zero_subtree(0), *sib[k + 1:]], DEPTH)
    j = next(i for i, s in enumerate(sib) if s is not None)
    flipped = bytes([sib[j][0] ^ 1]) + sib[j][1:]
    assert M.root_from_witness(pairs, [*sib[:j], flipped, *sib[j + 1:]], DEPTH) != root
    assert M.root_from_witness([(addrs[0], 6), *pairs[1:]], sib, DEPTH) != root  # another value
    assert M.root_from_witness([(4 * 2, 5), *pairs[1:]], sib, DEPTH) != root  # another address


def test_addresses_must_be_aligned_ascending_and_in_memory():
    _, _, _, pairs, sib = _setup()
    for bad in ([(13, 5), *pairs[1:]], [pairs[1], pairs[0], pairs[2]], [pairs[0], pairs[0], pairs[2]],
                [*pairs[:2], (4 << DEPTH, 0)], []):
        with pytest.raises(VerificationError):
            M.root_from_witness(bad, sib, DEPTH)


def test_memory_words_scan_the_executor_array_and_match_the_image():
    code = bytes(range(1, 41))
    elf = write_elf(0x1_0000, [(0x1_0000, code, PF_R | PF_X), (0x2_0002, b"\x01\x00\x00\x09", PF_R | PF_W)])
    program = load_elf(elf)
    mem = initial_memory(program)
    idx, vals = M.memory_words(mem)
    idx2, vals2 = M.image_words(program)
    assert idx.tolist() == idx2.tolist() and vals.tolist() == vals2.tolist()
    assert idx.tolist()[-2:] == [0x2_0000 // 4, 0x2_0004 // 4] and vals.tolist()[-2:] == [0x0001_0000, 0x0900]
    assert M.SparseTree.of_memory(mem).root == M.image_root(program)


def test_words_shared_by_two_unaligned_segments_are_merged():
    from zkray.zkvm.elf import Program

    program = Program(entry=0x1000, segments=(Segment(0x1000, b"\x11\x22"), Segment(0x1002, b"\x33\x44\x55")))
    idx, vals = M.image_words(program)
    assert idx.tolist() == [0x400, 0x401] and vals.tolist() == [0x4433_2211, 0x55]


def test_state_digest_binds_every_field():
    b = Boundary(pc=0x1_0000, registers=(0, *range(1, 32)), input_pos=3, journal_len=4)
    root = M.zero_subtree(M.DEPTH)
    d = state_digest(b, root)
    variants = [Boundary(b.pc + 4, b.registers, 3, 4), Boundary(b.pc, (0, *range(2, 33)), 3, 4),
                Boundary(b.pc, b.registers, 4, 4), Boundary(b.pc, b.registers, 3, 5)]
    assert len({d, *(state_digest(v, root) for v in variants), state_digest(b, M.leaf_hash(0))}) == 6
    check_boundary(b, "b")
    with pytest.raises(VerificationError, match="x0"):
        check_boundary(Boundary(0, (1,) * 32, 0, 0), "b")
    with pytest.raises(VerificationError, match="registers"):
        check_boundary(Boundary(0, (0,) * 31, 0, 0), "b")
    program = load_elf(write_elf(0x1_0000, [(0x1_0000, b"\x13\x00\x00\x00", PF_R | PF_X)]))
    assert initial_boundary(program) == Boundary(0x1_0000, (0,) * 32, 0, 0)


def test_witness_roots_chain_across_real_segments():
    """On a real run that reads input and writes a journal: each segment's `after` values with its start
    siblings give exactly the root of the next segment's start memory, so the digests chain."""
    elf = open("guest/sha256.elf", "rb").read()
    data = bytes(range(256)) * 3
    n = 1 << 12
    runs = [execute_segment(elf, data, i, segment_cycles=n)
            for i in range(plan_segments(elf, data, segment_cycles=n).segments)]
    assert len(runs) >= 3 and any(r.input_chunk for r in runs) and any(r.journal_chunk for r in runs)
    program = load_elf(elf)
    digest = state_digest(initial_boundary(program), M.image_root(program))
    for run, nxt in itertools.pairwise(runs):
        tree = M.SparseTree.of_memory(run.start_memory)
        sib = tree.witness([a for a, _, _ in run.memory])
        pre = M.root_from_witness([(a, b) for a, b, _ in run.memory], sib)
        post = M.root_from_witness([(a, c) for a, _, c in run.memory], sib)
        assert pre == tree.root
        assert state_digest(run.start, pre) == digest
        assert post == M.SparseTree.of_memory(nxt.start_memory).root
        digest = state_digest(run.end, post)
        assert digest == state_digest(nxt.start, post)


def test_image_roots_are_cached_per_image_in_a_small_lru():
    programs = [load_elf(write_elf(0x1_0000, [(0x1_0000, (0x13 + (i << 20)).to_bytes(4, "little"), PF_R | PF_X)]))
                for i in range(M._IMAGE_ROOTS_MAX + 4)]
    roots = [M.image_root(p) for p in programs]
    assert len(set(roots)) == len(programs) and len(M._IMAGE_ROOTS) == M._IMAGE_ROOTS_MAX
    assert M.image_root(programs[-1]) == roots[-1] == M.SparseTree(*M.image_words(programs[-1])).root
    assert M.image_root(programs[0]) == roots[0]  # evicted, rebuilt the same
