"""The executor's contract beyond what QEMU checks: typed errors with the pc, limits, trace columns,
buffer growth, and agreement between the compiled decoder and the instruction table on legality."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zkray
from zkray.zkvm.elf import PF_R, PF_W, PF_X, load_elf, write_elf
from zkray.zkvm.rv32im import (
    TRACE_COLUMNS,
    CycleLimitExceeded,
    EcallError,
    ExecutionError,
    IllegalInstruction,
    JournalLimitExceeded,
    MemoryFault,
    MisalignedAccess,
    execute,
)
from zkray.zkvm.rv32im.isa import encode, mnemonic

GUEST = Path(__file__).resolve().parents[2] / "guest"
CODE, DATA = 0x10000, 0x20000


def li(rd: int, value: int) -> list[int]:
    value &= 0xFFFF_FFFF
    lo = value & 0xFFF
    lo = lo - 0x1000 if lo & 0x800 else lo
    hi = ((value - lo) >> 12) & 0xFFFFF
    hi = hi - 0x100000 if hi & 0x80000 else hi
    return [encode("lui", rd=rd, imm=hi), encode("addi", rd=rd, rs1=rd, imm=lo)]


EXIT = [encode("addi", rd=17, imm=93), encode("ecall")]  # exit(a0)


# read(0, DATA, 1) a hundred times, then exit: more ECALLs than the first ECALL-log buffer holds
ECALL_LOOP = [*li(8, 100), encode("addi", rd=17, imm=63), encode("addi", rd=10, imm=0), *li(11, DATA),
              encode("addi", rd=12, imm=1), encode("ecall"), encode("addi", rd=8, rs1=8, imm=-1),
              encode("bne", rs1=8, rs2=0, imm=-28), *EXIT]


def elf(words: list[int], data: bytes = bytes(4096)) -> bytes:
    code = b"".join(w.to_bytes(4, "little") for w in words)
    return write_elf(CODE, [(CODE, code, PF_R | PF_X), (DATA, data, PF_R | PF_W)])


def run(words: list[int], **kw: object) -> zkray.Session:
    return execute(elf(words), b"", **kw)  # type: ignore[arg-type]


def test_public_surface() -> None:
    for name in ["execute", "Session", "ElfError", "ExecutionError"]:
        assert name in zkray.__all__ and hasattr(zkray, name)
    assert issubclass(ExecutionError, zkray.ZkvmError) and issubclass(zkray.ElfError, zkray.ZkvmError)


def test_exit_code_is_the_full_a0() -> None:
    s = run([*li(10, 0xFFFF_FFFF), *EXIT])
    assert (s.exit_code, s.journal, s.cycles) == (0xFFFF_FFFF, b"", 4)
    assert len(s.image_id) == 32


def test_x0_is_hard_wired() -> None:
    s = run([encode("addi", rd=0, rs1=0, imm=5), encode("add", rd=10, rs1=0, rs2=0), *EXIT])
    assert s.exit_code == 0
    assert s.trace is not None and s.trace.rd[0] == 0 and s.trace.rd_val[0] == 0


# ---- errors carry the pc and say what happened --------------------------------------------------

@pytest.mark.parametrize(("words", "error", "message", "pc"), [
    ([0], IllegalInstruction, "illegal instruction 0x00000000", CODE),
    ([encode("ebreak")], IllegalInstruction, "EBREAK", CODE),
    ([0x0000_1073], IllegalInstruction, "illegal instruction 0x00001073", CODE),  # csrrw: not RV32IM
    ([0x0000_100F], IllegalInstruction, "illegal", CODE),  # fence.i: Zifencei is not RV32IM
    ([0x4000_1033], IllegalInstruction, "illegal", CODE),  # sll with funct7 0x20
    ([0x0200_1013], IllegalInstruction, "illegal", CODE),  # slli with shamt[5] set: RV64 only
    ([*li(5, DATA + 1), encode("lw", rd=6, rs1=5)], MisalignedAccess, "misaligned load at 0x00020001",
     CODE + 8),
    ([*li(5, DATA + 1), encode("sh", rs1=5, rs2=5)], MisalignedAccess, "misaligned store", CODE + 8),
    ([encode("jal", imm=6)], MisalignedAccess, "jump target 0x00010006", CODE),
    ([*li(5, CODE + 2), encode("jalr", rd=1, rs1=5)], MisalignedAccess, "jump target 0x00010002", CODE + 8),
    ([encode("beq", rs1=0, rs2=0, imm=10)], MisalignedAccess, "jump target", CODE),
    ([encode("lw", rd=6, rs1=0, imm=0)], MemoryFault, "load at 0x00000000 is outside guest memory", CODE),
    ([*li(5, 0x1000_0000), encode("sb", rs1=5, rs2=5)], MemoryFault, "store at 0x10000000", CODE + 8),
    ([encode("jalr", rd=0, rs1=0, imm=0)], MemoryFault, "instruction fetch at 0x00000000", 0),
    ([encode("addi", rd=17, imm=1), encode("ecall")], EcallError, "unknown ECALL number 1", CODE + 4),
    ([encode("addi", rd=17, imm=63), encode("addi", rd=10, imm=3), encode("ecall")], EcallError, "fd 3",
     CODE + 8),
    ([encode("addi", rd=17, imm=64), encode("addi", rd=10, imm=0), encode("ecall")], EcallError, "fd 0",
     CODE + 8),
    ([encode("addi", rd=17, imm=64), encode("addi", rd=10, imm=1), encode("addi", rd=12, imm=8),
      encode("ecall")], MemoryFault, "ECALL buffer at 0x00000000", CODE + 12),
])
def test_faults_raise_typed_errors_with_the_pc(words: list[int], error: type, message: str, pc: int) -> None:
    with pytest.raises(error, match=message) as info:
        run(words)
    assert info.value.pc == pc
    assert f"pc={pc:#010x}" in str(info.value)


def test_untaken_branch_to_a_misaligned_target_does_not_trap() -> None:
    s = run([encode("addi", rd=5, imm=1), encode("beq", rs1=0, rs2=5, imm=10), *EXIT])
    assert s.exit_code == 0


def test_runaway_guest_stops_at_the_cycle_limit() -> None:
    with pytest.raises(CycleLimitExceeded, match="did not halt within 1000 cycles") as info:
        run([encode("jal", imm=0)], cycle_limit=1000)
    assert info.value.cycle == 1000 and info.value.pc == CODE
    fib = (GUEST / "fib.elf").read_bytes()
    with pytest.raises(CycleLimitExceeded):
        execute(fib, struct.pack("<I", 10**9), trace=False)  # default limit


def test_cycle_limit_is_exact() -> None:
    words = [*li(10, 7), *EXIT]
    assert run(words, cycle_limit=4).cycles == 4
    with pytest.raises(CycleLimitExceeded):
        run(words, cycle_limit=3)
    with pytest.raises(ValueError, match="cycle_limit"):
        run(words, cycle_limit=0)


def test_journal_limit() -> None:
    words = [encode("addi", rd=17, imm=64), encode("addi", rd=10, imm=1), *li(11, DATA),
             encode("addi", rd=12, imm=100), encode("ecall"), *EXIT]
    assert len(run(words).journal) == 100
    with pytest.raises(JournalLimitExceeded, match="over its limit of 50"):
        run(words, journal_limit=50)


# ---- the decoder and the instruction table agree on what is legal -------------------------------

MAJOR = [0x33, 0x13, 0x03, 0x23, 0x63, 0x6F, 0x67, 0x37, 0x17, 0x0F, 0x73]


@settings(max_examples=1500, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([*MAJOR, None]))
def test_compiled_decoder_agrees_with_the_instruction_table(bits: int, major: int | None) -> None:
    word = bits if major is None else (bits & ~0x7F) | major
    legal = mnemonic(word) not in (None, "ebreak")
    try:
        run([word, *EXIT], cycle_limit=50, trace=False)
    except IllegalInstruction as e:
        assert not legal or (e.pc, e.cycle) != (CODE, 0), f"{word:#010x} ({mnemonic(word)}) refused"
        return
    except ExecutionError:
        pass
    assert legal, f"{word:#010x} executed but the table says it is not RV32IM"


def test_encode_and_mnemonic_round_trip() -> None:
    for name in ["add", "mulhsu", "remu", "srai", "sltiu", "lhu", "sb", "bgeu", "jal", "jalr", "lui", "auipc",
                 "fence", "ecall", "ebreak"]:
        assert mnemonic(encode(name, rd=1, rs1=2, rs2=3, imm=4 if name != "lui" else 5)) == name


# ---- trace -------------------------------------------------------------------------------------

def test_trace_columns_for_loads_and_stores() -> None:
    words = [*li(5, DATA), *li(6, 0x1122_3344), encode("sw", rs1=5, rs2=6, imm=4),
             encode("lb", rd=7, rs1=5, imm=7), encode("sb", rs1=5, rs2=6, imm=6), *EXIT]
    s = run(words)
    tr = s.trace
    assert tr is not None and len(tr) == s.cycles == 9
    assert tr.columns.shape == (len(TRACE_COLUMNS), 9) and tr.columns.dtype == np.uint32
    sw, lb, sb = 4, 5, 6
    assert (tr.pc[sw], tr.insn[sw], tr.next_pc[sw]) == (CODE + 16, words[4], CODE + 20)
    assert (tr.rs1[sw], tr.rs1_val[sw], tr.rs2[sw], tr.rs2_val[sw], tr.rd[sw]) == (5, DATA, 6, 0x1122_3344, 0)
    assert (tr.mem_addr[sw], tr.mem_before[sw], tr.mem_after[sw]) == (DATA + 4, 0, 0x1122_3344)
    assert (tr.rd[lb], tr.rd_val[lb], tr.rs2[lb]) == (7, 0x11, 0)
    assert (tr.mem_addr[lb], tr.mem_before[lb], tr.mem_after[lb]) == (DATA + 7, 0x1122_3344, 0x1122_3344)
    assert (tr.mem_addr[sb], tr.mem_before[sb], tr.mem_after[sb]) == (DATA + 6, 0x1122_3344, 0x1144_3344)
    assert tr.column("pc") is not None and np.array_equal(tr.column("rd"), tr.rd)
    # the exit ECALL: reads a7 and a0, writes nothing, stays at its pc
    assert (tr.rs1[-1], tr.rs1_val[-1], tr.rs2[-1], tr.rd[-1], tr.next_pc[-1]) == (17, 93, 10, 0, tr.pc[-1])
    assert np.array_equal(tr.next_pc[:-1], tr.pc[1:])


def test_trace_grows_and_matches_preflight() -> None:
    fib = (GUEST / "fib.elf").read_bytes()
    data = struct.pack("<I", 40_000)  # ~200k cycles, past the first trace buffer
    traced, plain = execute(fib, data), execute(fib, data, trace=False)
    assert (traced.journal, traced.cycles, traced.exit_code) == (plain.journal, plain.cycles, plain.exit_code)
    assert plain.trace is None
    tr = traced.trace
    assert tr is not None and len(tr) == traced.cycles > 100_000
    assert np.array_equal(tr.next_pc[:-1], tr.pc[1:])


def test_ecall_log_records_every_ecall() -> None:
    s = execute(elf(ECALL_LOOP), bytes(range(60)))
    tr = s.trace
    assert tr is not None and s.input_read == 60
    number, result = tr.ecalls[1], tr.ecalls[5]
    assert list(number) == [63] * 100 + [93]
    assert list(result[:-1]) == [1] * 60 + [0] * 40
    assert (tr.insn[tr.ecalls[0]] == 0x73).all()


def test_journal_grows() -> None:
    items = list(range(3000, 0, -1))
    s = execute((GUEST / "sort.elf").read_bytes(), struct.pack(f"<{len(items)}I", *items), trace=False)
    assert s.journal == struct.pack(f"<{len(items)}I", *sorted(items))


def test_a_loaded_program_runs_like_its_bytes() -> None:
    fib = (GUEST / "fib.elf").read_bytes()
    a = execute(fib, struct.pack("<I", 30))
    b = execute(load_elf(fib), struct.pack("<I", 30))
    assert (a.journal, a.cycles, a.image_id) == (b.journal, b.cycles, b.image_id)
    assert a.trace is not None and b.trace is not None
    assert np.array_equal(a.trace.columns, b.trace.columns)


def test_buffers_grow_when_not_sized_by_a_preflight() -> None:
    """The traced run is normally sized by the preflight; the growth path must give the same trace."""
    from zkray.zkvm.rv32im import executor

    sort = (GUEST / "sort.elf").read_bytes()
    items = list(range(2000, 0, -1))  # ~300k cycles and an 8 KB journal: past the first buffers
    cases = [(sort, struct.pack(f"<{len(items)}I", *items)), (elf(ECALL_LOOP), bytes(range(60)))]
    for program, data in cases:
        expected = execute(program, data)
        run = executor._Run(load_elf(program), np.frombuffer(data, np.uint8), 10**8, 1 << 20, tracing=True)
        run.go()
        assert expected.trace is not None and run.cycles == expected.cycles
        assert np.array_equal(run.columns[:, : run.cycles], expected.trace.columns)
        assert np.array_equal(run.ecalls[:, : expected.trace.ecalls.shape[1]], expected.trace.ecalls)
        assert run.journal[: len(expected.journal)].tobytes() == expected.journal


def test_session_pickles_for_ray() -> None:
    """Sessions travel between Ray tasks; the trace must survive pickling intact."""
    import pickle

    s = execute((GUEST / "fib.elf").read_bytes(), struct.pack("<I", 50))
    t = pickle.loads(pickle.dumps(s))
    assert (t.cycles, t.journal, t.image_id, t.exit_code) == (s.cycles, s.journal, s.image_id, s.exit_code)
    assert t.trace is not None and s.trace is not None
    assert np.array_equal(t.trace.columns, s.trace.columns) and np.array_equal(t.trace.ecalls, s.trace.ecalls)
