"""Segments of one execution: consecutive slices of `segment_cycles` cycles that prove independently.

Segment `i` covers cycles `[i·segment_cycles, min((i+1)·segment_cycles, total))`; the last one is the one
that halts (it may be shorter). `execute_segment` is pure: it re-executes untraced from the entry point to
the segment's first cycle (preflight runs at tens of millions of cycles per second, far cheaper than
proving the segment), then traces the segment alone. What a segment's proof states is in
docs/segments-plan.md; the boundary, the touched words' before/after values, the input/journal chunks and
the input's total length here are exactly its public parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zkray.zkvm.elf import MEMORY_END, ElfLimits, Program
from zkray.zkvm.rv32im import kernel as k
from zkray.zkvm.rv32im.executor import DEFAULT_CYCLE_LIMIT, DEFAULT_JOURNAL_LIMIT, _Run, _trace_buffer, load
from zkray.zkvm.rv32im.image import image_id
from zkray.zkvm.rv32im.trace import (
    E_A1,
    E_A2,
    E_NUMBER,
    E_RESULT,
    INSN,
    MEM_ADDR,
    NUM_ECALL_COLUMNS,
    Trace,
)

_PAGE = 1 << 12


@dataclass(frozen=True)
class Boundary:
    """Machine state between two cycles, memory aside."""

    pc: int
    registers: tuple[int, ...]  # 32 unsigned 32-bit values; registers[0] == 0
    input_pos: int  # input bytes consumed before this point
    journal_len: int  # journal bytes written before this point


@dataclass(frozen=True)
class SegmentPlan:
    """The untraced preflight of a whole run, cut into segments: what a scheduler prices and fans out."""

    segment_cycles: int
    cycles: int  # the whole run, the exit ECALL included
    segments: int  # ceil(cycles / segment_cycles)
    exit_code: int
    journal: bytes
    input_read: int
    image_id: bytes


@dataclass(frozen=True)
class SegmentRun:
    """What the executor produced for one segment (prover side)."""

    index: int
    start: Boundary
    end: Boundary  # for the halting segment: pc = the exit ECALL's pc, registers after it
    halted: bool  # True only for the last segment
    exit_code: int  # a0 at the exit ECALL if halted, else 0
    cycles: int  # cycles in this segment (>= 1)
    memory: tuple[tuple[int, int, int], ...]  # (word address, before, after) of every touched RAM word, ascending
    input_chunk: bytes  # input[start.input_pos : end.input_pos]
    journal_chunk: bytes  # journal bytes written in this segment
    input_len: int  # the whole input's length: a read is short only where the input ends (guest ABI)
    trace: Trace  # this segment's rows; its ecalls' cycle column counts from the segment start
    start_memory: np.ndarray  # guest memory (uint8) at the segment start; in-process only, never serialised


def _check_segment_cycles(segment_cycles: int) -> int:
    n = int(segment_cycles)
    if n < 1 or n & (n - 1):
        raise ValueError(f"segment_cycles must be a power of two (at least 1), got {segment_cycles}")
    return n


def plan_segments(elf: bytes | Program, input: bytes = b"", *, segment_cycles: int, cycle_limit: int | None = None,
                  journal_limit: int | None = None, limits: ElfLimits | None = None) -> SegmentPlan:
    """Preflight the whole run untraced and count its segments; `ExecutionError` if the guest faults."""
    n = _check_segment_cycles(segment_cycles)
    program = load(elf, limits)
    run = _new_run(program, input, cycle_limit, journal_limit)
    run.go()
    cycles = run.cycles
    return SegmentPlan(segment_cycles=n, cycles=cycles, segments=-(-cycles // n),
                       exit_code=int(run.st[k.ST_EXIT_CODE]),
                       journal=run.journal[: run.st[k.ST_JOURNAL_LEN]].tobytes(),
                       input_read=int(run.st[k.ST_INPUT_POS]), image_id=image_id(program))


def execute_segment(elf: bytes | Program, input: bytes, index: int, *, segment_cycles: int,
                    cycle_limit: int | None = None, journal_limit: int | None = None,
                    limits: ElfLimits | None = None) -> SegmentRun:
    """Re-execute to cycle `index·segment_cycles` untraced, then trace that segment.

    IndexError if the run halts before the segment starts (`index` is past the last segment);
    `ExecutionError` (with the absolute cycle) if the guest faults on the way or inside the segment.
    """
    n = _check_segment_cycles(segment_cycles)
    if index < 0:
        raise IndexError(f"segment index {index} is negative")
    program = load(elf, limits)
    run = _new_run(program, input, cycle_limit, journal_limit)
    first = index * n
    if first and run.go(stop=first):
        raise IndexError(f"segment {index} is past the last one: the guest halts after {run.cycles} cycles "
                         f"({-(-run.cycles // n)} segments of {n})")
    start = _boundary(run)
    start_memory = _snapshot(run.mem)
    # Trace from a zeroed cycle counter, so the trace and ECALL log are segment-local (cycle_base keeps
    # errors and the cycle limit absolute).
    run.cycle_base, run.st[k.ST_CYCLE], run.st[k.ST_NUM_ECALLS] = first, 0, 0
    run.tracing = True
    run.columns = _trace_buffer(n)
    run.st[k.ST_TRACE_ROWS] = n
    run.ecalls = np.zeros((NUM_ECALL_COLUMNS, 64), dtype=np.int64)
    halted = run.go(stop=n)
    cycles, ecalls = run.cycles, int(run.st[k.ST_NUM_ECALLS])
    trace = Trace(columns=run.columns[:, :cycles], ecalls=run.ecalls[:, :ecalls])
    end = _boundary(run)
    words = _touched_words(trace)
    memory = tuple((a, _word(start_memory, a), _word(run.mem, a)) for a in words)
    inp = bytes(input)
    return SegmentRun(index=index, start=start, end=end, halted=halted,
                      exit_code=int(run.st[k.ST_EXIT_CODE]) if halted else 0, cycles=cycles, memory=memory,
                      input_chunk=inp[start.input_pos:end.input_pos],
                      journal_chunk=run.journal[start.journal_len:end.journal_len].tobytes(),
                      input_len=len(inp), trace=trace, start_memory=start_memory)


def _new_run(program: Program, input: bytes, cycle_limit: int | None, journal_limit: int | None) -> _Run:
    cycle_limit = DEFAULT_CYCLE_LIMIT if cycle_limit is None else int(cycle_limit)
    if cycle_limit < 1:
        raise ValueError(f"cycle_limit must be at least 1, got {cycle_limit}")
    journal_limit = DEFAULT_JOURNAL_LIMIT if journal_limit is None else int(journal_limit)
    inp = np.frombuffer(bytes(input), dtype=np.uint8)
    return _Run(program, inp, cycle_limit, journal_limit, tracing=False)


def _boundary(run: _Run) -> Boundary:
    regs = tuple(int(v) for v in run.regs)
    return Boundary(pc=int(run.st[k.ST_PC]), registers=regs, input_pos=int(run.st[k.ST_INPUT_POS]),
                    journal_len=int(run.st[k.ST_JOURNAL_LEN]))


def _snapshot(mem: np.ndarray) -> np.ndarray:
    """A copy of guest memory that commits only the pages holding non-zero bytes.

    A plain copy would commit all 256 MiB; untouched pages of the executor's array read as the shared
    zero page, so scanning them costs time (~0.1 s) but no memory."""
    out = np.zeros(MEMORY_END, dtype=np.uint8)
    pages = mem.reshape(-1, _PAGE)
    live = np.flatnonzero(pages.any(axis=1))
    out.reshape(-1, _PAGE)[live] = pages[live]
    return out


def _word(mem: np.ndarray, addr: int) -> int:
    return int.from_bytes(mem[addr:addr + 4].tobytes(), "little")


def _touched_words(trace: Trace) -> list[int]:
    """Aligned addresses of every word a load or store accesses or an ECALL reads into or writes from."""
    insn = trace.columns[INSN]
    opcode = insn & 0x7F
    mem_rows = (opcode == 0x03) | (opcode == 0x23)
    words = set((trace.columns[MEM_ADDR][mem_rows].astype(np.int64) & ~3).tolist())
    e = trace.ecalls
    for j in range(e.shape[1]):
        num, buf = int(e[E_NUMBER, j]), int(e[E_A1, j])
        length = int(e[E_RESULT, j]) if num == k.SYS_READ else int(e[E_A2, j]) if num == k.SYS_WRITE else 0
        if length > 0:
            words.update(range(buf & ~3, buf + length, 4))
    return sorted(words)

