"""RV32IM AIR soundness: one wrong value per instruction class, pushed past the prover's check, is rejected.

How a forgery is built so that it breaks exactly one thing: program P holds the instruction under test at
one pc; program P' is P with that one word replaced (e.g. ADD → SUB). P' runs honestly, and its witness is
patched back to claim P's instruction at that pc (the CPU row's decoded fields and flags, the program
table row; the SUM/DIFF units recomputed for P's operands). Every later value,
register and memory access then follows P'’s (wrong) result consistently, so what is left broken is the
one constraint or bus that ties that instruction's result, next pc or memory access to its operands.
The debug checker names the broken CPU constraint (or finds none when only a bus breaks); with check=False
the proof is made anyway and the verifier refuses it for that reason.
"""

from __future__ import annotations

import numpy as np
import pytest

from zkray.zkvm import field as F
from zkray.zkvm.air import DebugBuilder
from zkray.zkvm.elf import PF_R, PF_W, PF_X, write_elf
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.multi import prove_multi
from zkray.zkvm.rv32im import load_elf
from zkray.zkvm.rv32im.isa import encode
from zkray.zkvm.rv32im.segment import execute_segment
from zkray.zkvm.rv32im_air import cpu as C
from zkray.zkvm.rv32im_air import tables as T
from zkray.zkvm.rv32im_air.decode import decode
from zkray.zkvm.rv32im_air.segment import claim_of, public_inputs, public_tuples
from zkray.zkvm.rv32im_air.statement import CHIPS, verify_elf
from zkray.zkvm.rv32im_air.witness import _units, byte_table, generate

CODE, DATA = 0x1_0000, 0x2_0000
SLOT = 7  # index of the instruction under test


def _li(rd, value):
    lo = value & 0xFFF
    lo = lo - 0x1000 if lo & 0x800 else lo
    hi = ((value - lo) >> 12) & 0xFFFFF
    return [encode("lui", rd=rd, imm=hi - 0x100000 if hi & 0x80000 else hi), encode("addi", rd=rd, rs1=rd, imm=lo)]


def _words(slot_word):
    """x31 = DATA, x1 = −1, x2 = 1, x30 = pc of word 6; the word under test; landing pads; exit(x5)."""
    words = [*_li(31, DATA), *_li(1, 0xFFFF_FFFF), *_li(2, 1), encode("auipc", rd=30, imm=0), slot_word]
    words += [encode("addi", rd=0, rs1=0, imm=0)] * 4
    return [*words, encode("addi", rd=10, rs1=5, imm=0), encode("addi", rd=17, rs1=0, imm=93), encode("ecall")]


def _elf(words):
    data = b"".join(v.to_bytes(4, "little") for v in (0x1111_1111, 0x2222_2222, 0x8899_AABB, 0x4444_4444))
    code = b"".join(w.to_bytes(4, "little") for w in words)
    return write_elf(CODE, [(CODE, code, PF_R | PF_X), (DATA, data, PF_R | PF_W)])


def whole_run(elf, input=b""):
    """The one segment that is the whole run."""
    return execute_segment(elf, input, 0, segment_cycles=1 << 10)


def forge(honest_word, fake_word):
    """(P's ELF, the forged claim, the forged traces): P' run, patched to claim P's word at the slot."""
    p, fake = _elf(_words(honest_word)), _elf(_words(fake_word))
    run = whole_run(fake)
    traces = generate(load_elf(fake), run)
    pc = CODE + 4 * SLOT
    d = decode(honest_word, pc)
    cpu = traces[2].T.astype(np.int64)
    for i in np.nonzero((cpu[:, C.PC] == pc) & (cpu[:, C.REAL] == 1))[0]:
        row = cpu[i]
        row[[C.WR, C.RD, C.RS1, C.RS2, C.TARGET]] = [d.wr, d.rd, d.rs1, d.rs2, d.target]
        row[list(C.IMM)] = list(d.imm.to_bytes(4, "little"))
        row[list(C.FLAG.values())] = 0
        row[C.FLAG[d.op]] = 1
        a = int.from_bytes(bytes(int(row[c]) for c in C.A), "little")
        b = int.from_bytes(bytes(int(row[c]) for c in C.B), "little")
        s, _, _ = _units(row, a, b, d.imm, d.op)
        memory = d.op in C.LOADS or d.op in C.STORES
        row[C.LOW] = (s & 0xFF) >> (2 if memory else 1)
        if memory:  # the byte offset follows the (recomputed) address
            row[list(C.OFFSET)] = [int(k == s & 3) for k in range(4)]
    traces[2] = np.ascontiguousarray(cpu.T % F.P, dtype=np.uint32)
    prog = traces[1]
    j = int(np.nonzero(prog[T.PFIELDS[0]] == pc)[0][0])
    prog[list(T.PFIELDS), j] = d.fields()
    traces[0] = byte_table(CHIPS, traces)
    return p, claim_of(run), traces


def cpu_violations(traces, claim):
    builder = DebugBuilder(C.CPU.air, traces[2], None, [], public_inputs(claim))
    C.CPU.air.eval(builder)
    return {v.constraint for v in builder.violations}


CASES = {
    # class: (honest word, forged word, what breaks)
    "alu: ADD result": (encode("add", rd=5, rs1=1, rs2=2), encode("sub", rd=5, rs1=1, rs2=2),
                        "ADD/ADDI/LUI/AUIPC: result byte 0 = SUM"),
    "compare: SLT result": (encode("slt", rd=5, rs1=1, rs2=2), encode("sltu", rd=5, rs1=1, rs2=2),
                            "SLT/SLTI: result = signed less-than"),
    "logic: AND result": (encode("and", rd=5, rs1=1, rs2=2), encode("or", rd=5, rs1=1, rs2=2), "bus 'bitwise'"),
    "logic: XORI result": (encode("xori", rd=5, rs1=1, imm=3), encode("ori", rd=5, rs1=1, imm=3), "bus 'bitwise'"),
    "shift: SLL result": (encode("sll", rd=5, rs1=1, rs2=2), encode("srl", rd=5, rs1=1, rs2=2), "bus 'shift'"),
    "shift: SRAI result": (encode("srai", rd=5, rs1=1, imm=9), encode("srli", rd=5, rs1=1, imm=9), "bus 'shift'"),
    "mul: MULH result": (encode("mulh", rd=5, rs1=1, rs2=2), encode("mulhu", rd=5, rs1=1, rs2=2), "bus 'mul'"),
    "mul: MUL result": (encode("mul", rd=5, rs1=1, rs2=1), encode("mulhu", rd=5, rs1=1, rs2=1), "bus 'mul'"),
    "fence: FENCE jumps": (encode("fence"), encode("jal", rd=0, imm=8), "next_pc"),
    "div: DIV result": (encode("div", rd=5, rs1=1, rs2=31), encode("divu", rd=5, rs1=1, rs2=31), "bus 'div'"),
    "div: REM result": (encode("rem", rd=5, rs1=1, rs2=31), encode("remu", rd=5, rs1=1, rs2=31), "bus 'div'"),
    "div: DIVU by zero": (encode("divu", rd=5, rs1=2, rs2=0), encode("remu", rd=5, rs1=2, rs2=0), "bus 'div'"),
    "branch: BEQ not taken, pc jumps": (encode("beq", rs1=1, rs2=2, imm=8), encode("bne", rs1=1, rs2=2, imm=8),
                                        "next_pc"),
    "jump: JAL to the wrong pc": (encode("jal", rd=5, imm=8), encode("jal", rd=5, imm=12), "next_pc"),
    "jump: JALR to the wrong pc": (encode("jalr", rd=5, rs1=30, imm=12), encode("jalr", rd=5, rs1=30, imm=16),
                                   "next_pc"),
    "load: LW returns another word": (encode("lw", rd=5, rs1=31, imm=0), encode("lw", rd=5, rs1=31, imm=4),
                                      "bus 'mem'"),
    "store: SW lands elsewhere": (encode("sw", rs1=31, rs2=2, imm=0), encode("sw", rs1=31, rs2=2, imm=4),
                                  "bus 'mem'"),
    "load: LB without its sign fill": (encode("lb", rd=5, rs1=31, imm=8), encode("lbu", rd=5, rs1=31, imm=8),
                                       "load_top = the loaded byte (LB)"),
    "load: LH reads the other half": (encode("lh", rd=5, rs1=31, imm=8), encode("lh", rd=5, rs1=31, imm=10),
                                      "sel_half byte 0 = the addressed half's"),
    "store: SB writes a whole word": (encode("sb", rs1=31, rs2=1, imm=4), encode("sw", rs1=31, rs2=1, imm=4),
                                      "stores: mem_new byte 1 merges rs2 into the word"),
    "store: SH writes the other half": (encode("sh", rs1=31, rs2=1, imm=0), encode("sh", rs1=31, rs2=1, imm=2),
                                        "stores: mem_new byte 0 merges rs2 into the word"),
    "x0: a write to x0 sticks": (encode("addi", rd=0, rs1=1, imm=5), encode("addi", rd=5, rs1=1, imm=5),
                                 "bus 'reg'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_one_wrong_value_is_rejected(case):
    honest, fake, breaks = CASES[case]
    elf, claim, traces = forge(honest, fake)
    program = load_elf(elf)
    pts = public_tuples(program, claim)
    proof = prove_multi(CHIPS, traces, public_inputs(claim), public_tuples=pts, check=False)
    if breaks.startswith("bus"):
        assert not cpu_violations(traces, claim)  # the CPU's own constraints hold: only the bus breaks
        with pytest.raises(VerificationError, match="interactions do not balance"):
            verify_elf(elf, claim, proof)
    else:
        assert any(breaks in v for v in cpu_violations(traces, claim))
        with pytest.raises(VerificationError, match="rv32im-cpu: constraints do not hold"):
            verify_elf(elf, claim, proof)


def test_the_honest_programs_behind_the_forgeries_verify():
    elf = _elf(_words(CASES["load: LW returns another word"][0]))
    from zkray.zkvm.rv32im_air import prove_elf

    _, claim, proof = prove_elf(elf)
    assert claim.exit_code == 0x1111_1111
    verify_elf(elf, claim, proof)


def _air_violations(air, trace):
    builder = DebugBuilder(air, trace, None, [], ())
    air.eval(builder)
    return {v.constraint for v in builder.violations}


def test_byte_table_rows_are_exactly_the_byte_pairs_with_their_and_xor():
    table = byte_table(CHIPS[:1], [np.zeros((T._B.width, 1 << 16), np.uint32)])
    assert not _air_violations(T.BYTES.air, table)
    skip = table.copy()
    skip[T.YBITS[0], 300] ^= 1  # (1, 44) becomes (1, 45): a pair twice, another missing
    assert "the pairs step by one: 256·x + y increases by 1" in _air_violations(T.BYTES.air, skip)
    wrong = table.copy()
    wrong[T.BAND, 0x1234] ^= 4
    assert _air_violations(T.BYTES.air, wrong) == {"and = Σ 2^i·x_i·y_i"}
    half = table.copy()
    half[T.XBITS[0], 7] = 2  # not a bit
    assert "bit x_bit[0] is boolean" in _air_violations(T.BYTES.air, half)


def test_shift_chip_rows_compute_the_shift():
    import random

    from zkray.zkvm.rv32im_air import shift as S

    rng = random.Random(5)
    rows = np.zeros((64, S.WIDTH), dtype=np.int64)
    for i in range(60):
        S.fill_row(rows[i], rng.choice(S.SHIFT_OPS), rng.getrandbits(32), rng.choice([0, 7, 8, 31, 32, 255]))
    for i in range(60, 64):
        S.fill_padding(rows[i])
    honest = np.ascontiguousarray(rows.T % F.P, dtype=np.uint32)
    assert not _air_violations(S.SHIFT.air, honest)
    for col, name in ((S.RES[2], "result byte 2: c moved by K whole bytes"),
                      (S.C[1], "c byte 1: the word shifted by bs"),
                      (S.FILL_BYTE, "fill_byte = the sign for SRA, else 0")):
        bad = honest.copy()
        bad[col, 3] = (int(bad[col, 3]) + 1) % F.P
        assert name in _air_violations(S.SHIFT.air, bad)


def test_mul_chip_rows_compute_the_product():
    import random

    from zkray.zkvm.rv32im_air import mul as U

    rng = random.Random(6)
    rows = np.zeros((32, U.WIDTH), dtype=np.int64)
    for i in range(30):
        U.fill_row(rows[i], rng.choice(U.MUL_OPS), rng.choice([0xFFFF_FFFF, 0x8000_0000, rng.getrandbits(32)]),
                   rng.choice([1, 0xFFFF_FFFF, rng.getrandbits(32)]))
    honest = np.ascontiguousarray(rows.T % F.P, dtype=np.uint32)
    assert not _air_violations(U.MUL.air, honest)
    for col, name in ((U.PROD[5], "product byte 5: prod + 256·carry = Σ a_i·b_(j−i) + carry in"),
                      (U.EXT_A, "ext_a = a's sign bit when a is signed (MULH, MULHSU)")):
        bad = honest.copy()
        bad[col, 3] = (int(bad[col, 3]) + 1) % F.P
        assert name in _air_violations(U.MUL.air, bad)


@pytest.mark.parametrize(("op", "a", "b", "forged", "breaks"), [
    ("divu", 100, 7, (13, 9), "b ≠ 0 and no overflow: |r| < |b| (the gap does not borrow out)"),
    ("div", (-7) & 0xFFFF_FFFF, 2, ((-4) & 0xFFFF_FFFF, 1), "signed: a non-zero remainder has a's sign"),
    ("divu", 5, 0, (0, 5), "b = 0: quotient byte 0 is 255"),
    ("div", 0x8000_0000, 0xFFFF_FFFF, (0x8000_0000, 0), None),  # the overflow case itself is honest
])
def test_div_chip_admits_only_the_specified_quotient(monkeypatch, op, a, b, forged, breaks):
    from zkray.zkvm.rv32im_air import div as V

    rows = np.zeros((4, V.WIDTH), dtype=np.int64)
    assert V.fill_row(rows[0], op, a, b) == V.divide(op, a, b)[0]
    for i in range(1, 4):
        V.fill_row(rows[i], None, 0, 0)
    assert not _air_violations(V.DIV.air, np.ascontiguousarray(rows.T % F.P, dtype=np.uint32))
    if breaks is None:
        return
    monkeypatch.setattr(V, "divide", lambda *_: forged)  # a q, r with a = q·b + r that the spec does not give
    V.fill_row(rows[0], op, a, b)
    assert breaks in _air_violations(V.DIV.air, np.ascontiguousarray(rows.T % F.P, dtype=np.uint32))


def test_an_ecall_flag_must_match_a7():
    p = _elf(_words(encode("addi", rd=5, rs1=1, imm=0)))
    run = whole_run(p)
    traces, claim = generate(load_elf(p), run), claim_of(run)
    assert not cpu_violations(traces, claim)
    halt = int(np.nonzero(traces[2][C.FLAG["halt"]])[0][0])
    for a7 in (64, 63, 94):  # write, read, nothing: none may pass for exit
        cpu = traces[2].copy()
        cpu[C.A[0], halt] = a7
        assert "ECALL: a7 byte 0 = 93 (exit), 63 (read) or 64 (write), as the flag says" in cpu_violations(
            [*traces[:2], cpu], claim)
    cpu = traces[2].copy()
    cpu[C.FLAG["halt"], halt], cpu[C.FLAG["write"], halt] = 0, 1  # exit's a7 under the write flag
    assert "ECALL: a7 byte 0 = 93 (exit), 63 (read) or 64 (write), as the flag says" in cpu_violations(
        [*traces[:2], cpu], claim)
