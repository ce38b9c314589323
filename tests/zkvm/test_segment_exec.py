"""Executor segments: the segments of a run, put back together, are exactly the whole traced run."""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest
from test_rv32im_air_programs import loop

from zkray.zkvm.rv32im import execute
from zkray.zkvm.rv32im.errors import CycleLimitExceeded
from zkray.zkvm.rv32im.segment import Boundary, execute_segment, plan_segments
from zkray.zkvm.rv32im.trace import E_CYCLE

SHA = open("guest/sha256.elf", "rb").read()
SHA_INPUT = bytes(range(256)) * 17  # 4,352 bytes: read in two 4 KiB chunks, far apart in cycles


def _segments(elf: bytes, data: bytes, n: int) -> list:
    plan = plan_segments(elf, data, segment_cycles=n)
    return [execute_segment(elf, data, i, segment_cycles=n) for i in range(plan.segments)]


@pytest.mark.parametrize(("elf", "data", "n"), [(SHA, SHA_INPUT, 1 << 14), (loop(100), b"", 1 << 7)])
def test_segments_concatenate_to_the_whole_traced_run(elf: bytes, data: bytes, n: int) -> None:
    whole = execute(elf, data)
    plan = plan_segments(elf, data, segment_cycles=n)
    assert (plan.cycles, plan.exit_code, plan.journal, plan.input_read) == (
        whole.cycles, whole.exit_code, whole.journal, whole.input_read)
    assert plan.segments == -(-whole.cycles // n) and plan.segments > 2
    segs = _segments(elf, data, n)
    assert [s.cycles for s in segs[:-1]] == [n] * (len(segs) - 1) and 1 <= segs[-1].cycles <= n
    assert np.array_equal(np.concatenate([s.trace.columns for s in segs], axis=1), whole.trace.columns)
    ecalls = []
    for i, s in enumerate(segs):  # the ECALL log's cycle column is segment-local
        e = s.trace.ecalls.copy()
        e[E_CYCLE] += i * n
        ecalls.append(e)
    assert np.array_equal(np.concatenate(ecalls, axis=1), whole.trace.ecalls)
    assert b"".join(s.journal_chunk for s in segs) == whole.journal
    assert b"".join(s.input_chunk for s in segs) == data[:whole.input_read]
    assert [s.halted for s in segs] == [False] * (len(segs) - 1) + [True]
    assert [s.input_len for s in segs] == [len(data)] * len(segs)  # every segment states the whole input's length
    assert [s.exit_code for s in segs] == [0] * (len(segs) - 1) + [whole.exit_code]
    assert segs[0].start == Boundary(pc=segs[0].trace.pc[0], registers=(0,) * 32, input_pos=0, journal_len=0)
    for a, b in itertools.pairwise(segs):
        assert a.end == b.start
        assert b.start.pc == b.trace.pc[0] == a.trace.next_pc[-1]
    last = segs[-1]
    assert last.end.pc == last.trace.pc[-1]  # the exit ECALL's own pc
    assert (last.end.input_pos, last.end.journal_len) == (whole.input_read, len(whole.journal))
    with pytest.raises(IndexError):
        execute_segment(elf, data, len(segs), segment_cycles=n)


def test_the_sha256_journal_is_the_hash_of_the_input_consumed() -> None:
    segs = _segments(SHA, SHA_INPUT, 1 << 14)
    assert b"".join(s.journal_chunk for s in segs) == hashlib.sha256(SHA_INPUT).digest()
    assert sum(1 for s in segs if s.input_chunk) >= 2  # input is read in more than one segment


def test_memory_before_and_after_agree_with_the_executor_memory() -> None:
    n = 1 << 14
    segs = _segments(SHA, SHA_INPUT, n)
    for i, s in enumerate(segs):
        addrs = [a for a, _, _ in s.memory]
        assert addrs and addrs == sorted(set(addrs)) and all(a % 4 == 0 for a in addrs)
        for a, before, after in s.memory:
            assert before == _word(s.start_memory, a)
            if i + 1 < len(segs):  # the next segment starts from this one's end memory
                assert after == _word(segs[i + 1].start_memory, a)
        tr = s.trace
        op = tr.insn & 0x7F
        rows = np.flatnonzero((op == 0x03) | (op == 0x23))
        listed = {a: (b, c) for a, b, c in s.memory}
        firsts: dict[int, int] = {}
        for row in rows:  # every load/store word is listed; a word's last access leaves its 'after'
            w = int(tr.mem_addr[row]) & ~3
            firsts.setdefault(w, int(row))
            assert w in listed
        lasts = {int(tr.mem_addr[row]) & ~3: int(row) for row in rows}
        reads = [int(c) for c, num in zip(tr.ecalls[E_CYCLE], tr.ecalls[1], strict=True) if num == 63]
        for w, row in firsts.items():
            if not any(c < row for c in reads):  # no ECALL read could have written it earlier
                assert int(tr.mem_before[row]) == listed[w][0]
        for w, row in lasts.items():
            if not any(c > row for c in reads):
                assert int(tr.mem_after[row]) == listed[w][1]
        for num, buf, got in zip(tr.ecalls[1], tr.ecalls[3], tr.ecalls[5], strict=True):
            if num == 63 and got:  # the words an ECALL read filled are listed
                assert set(range(int(buf) & ~3, int(buf) + int(got), 4)) <= set(listed)


def _word(mem: np.ndarray, a: int) -> int:
    return int.from_bytes(mem[a:a + 4].tobytes(), "little")


def test_a_segment_without_ecalls_lists_exactly_its_loads_and_stores() -> None:
    s = execute_segment(loop(100), b"", 1, segment_cycles=1 << 7)
    assert s.trace.ecalls.shape[1] == 0 and not s.halted and s.exit_code == 0
    assert [a for a, _, _ in s.memory] == [0x2_0008]  # the loop's one SW/LW word
    (_, before, after), = s.memory
    assert before != after  # it stores a new value each iteration


@pytest.mark.parametrize("bad", [0, 3, 1000, -4])
def test_bad_segment_cycles_are_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        plan_segments(SHA, SHA_INPUT, segment_cycles=bad)
    with pytest.raises(ValueError, match="power of two"):
        execute_segment(SHA, SHA_INPUT, 0, segment_cycles=bad)


def test_negative_index_and_cycle_limit() -> None:
    with pytest.raises(IndexError):
        execute_segment(SHA, SHA_INPUT, -1, segment_cycles=1 << 10)
    with pytest.raises(CycleLimitExceeded) as err:  # the limit is on the whole run, cycles are absolute
        execute_segment(SHA, SHA_INPUT, 3, segment_cycles=1 << 10, cycle_limit=3 * 1024 + 5)
    assert err.value.cycle == 3 * 1024 + 5
