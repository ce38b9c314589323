"""Run a guest to completion: load it, drive the compiled loop, grow its buffers, map stops to errors."""

from __future__ import annotations

import numpy as np

from zkray.zkvm.elf import MEMORY_END, ElfLimits, Program, load_elf
from zkray.zkvm.rv32im import kernel as k
from zkray.zkvm.rv32im.errors import (
    CycleLimitExceeded,
    EcallError,
    ExecutionError,
    IllegalInstruction,
    JournalLimitExceeded,
    MemoryFault,
    MisalignedAccess,
)
from zkray.zkvm.rv32im.image import image_id
from zkray.zkvm.rv32im.session import Session
from zkray.zkvm.rv32im.trace import NUM_COLUMNS, NUM_ECALL_COLUMNS, Trace

DEFAULT_CYCLE_LIMIT = 1 << 26  # ~67 M cycles: seconds of preflight; a traced run needs 48 B per cycle
DEFAULT_JOURNAL_LIMIT = 1 << 24  # 16 MiB: journals are public outputs, meant to be small
_FIRST_TRACE_ROWS = 1 << 14
_FIRST_JOURNAL_BYTES = 1 << 10
_FIRST_ECALL_ROWS = 64
_MAX_RESUMES = 256  # each resume doubles a buffer, so a finished run needs a few dozen at most


def load(elf: bytes | Program, limits: ElfLimits | None = None) -> Program:
    """A `Program` from ELF bytes (or the program itself, so callers can load once and run often)."""
    return elf if isinstance(elf, Program) else load_elf(elf, limits)


def initial_memory(program: Program) -> np.ndarray:
    """Guest memory with the program loaded; zero pages are allocated lazily by the OS."""
    mem = np.zeros(MEMORY_END, dtype=np.uint8)
    for seg in program.segments:
        mem[seg.address:seg.end] = np.frombuffer(seg.data, dtype=np.uint8)
    return mem


def execute(
    elf: bytes | Program,
    input: bytes = b"",
    *,
    cycle_limit: int | None = None,
    trace: bool = True,
    journal_limit: int | None = None,
    limits: ElfLimits | None = None,
) -> Session:
    """Run the guest on `input` until it halts; raise an `ExecutionError` if it faults or runs too long.

    With `trace=False` this is the cheap preflight a scheduler uses to price a job (cycles, journal,
    exit code). With `trace=True` the preflight runs first, so a failing guest fails fast and the
    trace buffers are allocated once at their exact size, then a second, tracing run fills them.
    """
    program = load(elf, limits)
    cycle_limit = DEFAULT_CYCLE_LIMIT if cycle_limit is None else int(cycle_limit)
    if cycle_limit < 1:
        raise ValueError(f"cycle_limit must be at least 1, got {cycle_limit}")
    journal_limit = DEFAULT_JOURNAL_LIMIT if journal_limit is None else int(journal_limit)
    inp = np.frombuffer(bytes(input), dtype=np.uint8)
    run = _Run(program, inp, cycle_limit, journal_limit, tracing=False)
    run.go()
    tr = None
    if trace:
        sizes = (run.cycles, int(run.st[k.ST_NUM_ECALLS]), int(run.st[k.ST_JOURNAL_LEN]))
        traced = _Run(program, inp, cycle_limit, journal_limit, tracing=True, sizes=sizes)
        traced.go()
        run = traced
        tr = Trace(columns=traced.columns[:, : run.cycles], ecalls=traced.ecalls[:, : sizes[1]])
    return Session(
        exit_code=int(run.st[k.ST_EXIT_CODE]),
        journal=run.journal[: run.st[k.ST_JOURNAL_LEN]].tobytes(),
        cycles=run.cycles,
        image_id=image_id(program),
        input_read=int(run.st[k.ST_INPUT_POS]),
        trace=tr,
    )


def _trace_buffer(rows: int) -> np.ndarray:
    """Column-major trace storage whose row stride is not a power of two.

    The loop writes all twelve columns every cycle; with a power-of-two stride those twelve writes
    map to the same cache sets and evict each other (measured: 2-3x slower tracing).
    """
    stride = -(-max(rows, 1) // 1024) * 1024 + 272
    return np.zeros((NUM_COLUMNS, stride), dtype=np.uint32)


class _Run:
    """One run of the compiled loop to completion, growing whichever buffer it reports full."""

    def __init__(self, program: Program, inp: np.ndarray, cycle_limit: int, journal_limit: int, *,
                 tracing: bool, sizes: tuple[int, int, int] = (0, 0, 0)) -> None:
        rows, ecall_rows, journal_bytes = sizes
        self.program, self.inp, self.cycle_limit, self.tracing = program, inp, cycle_limit, tracing
        self.mem = initial_memory(program)
        self.regs = np.zeros(32, dtype=np.int64)
        self.st = np.zeros(k.STATE_SIZE, dtype=np.int64)
        self.st[k.ST_PC] = program.entry
        self.st[k.ST_JOURNAL_LIMIT] = journal_limit
        self.journal = np.zeros(max(journal_bytes, _FIRST_JOURNAL_BYTES), dtype=np.uint8)
        rows = max(rows, min(cycle_limit, _FIRST_TRACE_ROWS)) if tracing else 0
        self.columns = _trace_buffer(rows) if tracing else np.zeros((NUM_COLUMNS, 0), dtype=np.uint32)
        self.st[k.ST_TRACE_ROWS] = rows
        ecall_rows = max(ecall_rows, _FIRST_ECALL_ROWS) if tracing else 0
        self.ecalls = np.zeros((NUM_ECALL_COLUMNS, ecall_rows), dtype=np.int64)
        self.cycle_base = 0  # cycles retired before st[ST_CYCLE] was reset (segments trace from 0)

    @property
    def cycles(self) -> int:
        return int(self.st[k.ST_CYCLE])

    def go(self, stop: int | None = None) -> bool:
        """Run until the guest halts (True) or, given `stop`, until `st[ST_CYCLE]` reaches it (False)."""
        st = self.st
        limit = self.cycle_limit - self.cycle_base
        target = limit if stop is None else min(stop, limit)
        for _ in range(_MAX_RESUMES):
            status = k.run(self.mem, self.regs, st, self.inp, self.journal, self.columns, self.ecalls,
                           target, self.tracing)
            if status == k.HALTED:
                return True
            if status == k.STOP_CYCLES and stop is not None and target == stop:
                return False
            if status == k.TRACE_FULL:
                rows = min(self.cycle_limit, 2 * int(st[k.ST_TRACE_ROWS]))
                bigger = _trace_buffer(rows)
                bigger[:, : self.columns.shape[1]] = self.columns
                self.columns = bigger
                st[k.ST_TRACE_ROWS] = rows
            elif status == k.ECALLS_FULL:
                bigger = np.zeros((NUM_ECALL_COLUMNS, 2 * self.ecalls.shape[1]), dtype=np.int64)
                bigger[:, : self.ecalls.shape[1]] = self.ecalls
                self.ecalls = bigger
            elif status == k.JOURNAL_FULL:
                journal = np.zeros(max(2 * self.journal.shape[0], int(st[k.ST_FAULT])), dtype=np.uint8)
                journal[: self.journal.shape[0]] = self.journal
                self.journal = journal
            else:
                raise _error(status, st, self.mem, self.cycle_limit, self.cycle_base)
        raise ExecutionError(f"executor resumed {_MAX_RESUMES} times without finishing (a zkray bug)",
                             pc=int(st[k.ST_PC]), cycle=self.cycle_base + self.cycles)


def _error(status: int, st: np.ndarray, mem: np.ndarray, cycle_limit: int, cycle_base: int = 0) -> ExecutionError:
    """The typed error for a stop code; the message says what the guest did and what to do."""
    pc, cycle, fault = int(st[k.ST_PC]), cycle_base + int(st[k.ST_CYCLE]), int(st[k.ST_FAULT])
    where = {"pc": pc, "cycle": cycle}
    if status == k.STOP_CYCLES:
        return CycleLimitExceeded(
            f"guest did not halt within {cycle_limit} cycles; raise cycle_limit or check the guest "
            f"for an endless loop", **where)
    if status == k.ERR_ILLEGAL:
        word = int.from_bytes(mem[pc:pc + 4].tobytes(), "little")
        return IllegalInstruction(
            f"illegal instruction {word:#010x}: not RV32IM (build with -march=rv32im -mabi=ilp32)", **where)
    if status == k.ERR_EBREAK:
        return IllegalInstruction("EBREAK: breakpoints are not part of the guest ABI", **where)
    if status == k.ERR_MISALIGNED_JUMP:
        return MisalignedAccess(f"jump target {fault:#010x} is not 4-byte aligned", **where)
    if status in (k.ERR_MISALIGNED_LOAD, k.ERR_MISALIGNED_STORE):
        kind = "load" if status == k.ERR_MISALIGNED_LOAD else "store"
        return MisalignedAccess(f"misaligned {kind} at {fault:#010x}: zkray traps instead of emulating "
                                f"misaligned accesses", **where)
    if status in (k.ERR_FETCH_FAULT, k.ERR_LOAD_FAULT, k.ERR_STORE_FAULT):
        kind = {k.ERR_FETCH_FAULT: "instruction fetch", k.ERR_LOAD_FAULT: "load",
                k.ERR_STORE_FAULT: "store"}[status]
        return MemoryFault(f"{kind} at {fault:#010x} is outside guest memory [{0x1000:#x}, "
                           f"{MEMORY_END:#x})", **where)
    if status == k.ERR_ECALL_NUMBER:
        return EcallError(f"unknown ECALL number {fault} in a7: the guest ABI defines 63 (read), "
                          f"64 (write) and 93 (exit)", **where)
    if status == k.ERR_ECALL_FD:
        return EcallError(f"ECALL on fd {fault}: read takes fd 0 (input), write takes fd 1 (journal)",
                          **where)
    if status == k.ERR_ECALL_BUFFER:
        return MemoryFault(f"ECALL buffer at {fault:#010x} runs outside guest memory", **where)
    if status == k.ERR_JOURNAL_LIMIT:
        return JournalLimitExceeded(f"journal would grow to {fault} bytes, over its limit of "
                                    f"{int(st[k.ST_JOURNAL_LIMIT])}", **where)
    return ExecutionError(f"executor stopped with unknown status {status}", **where)
