"""The CPU chip: one row per cycle of the segment, from its start pc to its last cycle, then padding.

Per row: the decoded instruction is looked up by pc in the program table (so every field the row uses
is what the verifier decoded from the image); rs1 and rs2 are read and rd written through the register
bus, a load/store accesses the RAM bus; values are 32-bit words as 4 bytes. Two byte-wise units run on
every row whatever the instruction, so they need no selectors:

- SUM  s = a + Q   (Q = rs2 value for ADD, else the immediate) with carries: ADD/ADDI/LUI/AUIPC results,
  LW/SW addresses and the JALR target;
- DIFF d = a − Q2  (Q2 = the immediate for SLTI/SLTIU, else rs2 value) with borrows: SUB, the unsigned
  comparison (the last borrow), the signed one (with the operands' sign bits), equality (d = 0).

AND/OR/XOR and their immediate forms look each result byte up in the byte table; shifts send
(op, a, amount byte, result) to the shift chip, MUL* (op, a, b, result) to the multiply chip and
DIV*/REM* to the divide chip.
Each op's flag selects which unit's output is the result and how the next pc is formed. Timestamps are
t = 4·clk + slot + 1 (slots: rs1 read, rs2 read, memory, rd write); each access proves t_prev < t by
range-checking t − t_prev − 1 in three bytes. RAM accesses use their own clock (RAM is a separate bus):
t_ram = clk + 1 + io, io = the bytes ECALLs moved before this row, so the io chip's byte accesses during an
ECALL get timestamps of their own between this row's and the next's.

ECALL is one decoded class (rd = a0, rs1 = a7, rs2 = a1; a2 is read in the memory slot); the row's flag
halt / read / write must match a7 (93 / 63 / 64). Exit leaves a0 unchanged and ends the segment; read and
write hand (kind, clk, buffer, stream position, t_ram) to the io chip (io.py), which moves one byte per
row and hands back the state advanced by the byte count, which is the ECALL's result in a0. A read's count
is min(a2, input length − position) (the input length is a public input), so a read is short only at the
end of the input, as the guest ABI says. The last
real row sends ("end", halted, next pc, exit code) to the statement. Constraint comments say what each
enforces.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkray.zkvm.air import Air, ConstraintBuilder, Val
from zkray.zkvm.multi import Chip, Interaction
from zkray.zkvm.rv32im_air.decode import OP_ID, OPS
from zkray.zkvm.rv32im_air.div import DIV_BUS, DIV_OPS
from zkray.zkvm.rv32im_air.io import IO_BUS
from zkray.zkvm.rv32im_air.layout import Layout
from zkray.zkvm.rv32im_air.memory import MEM_BUS, REG_BUS
from zkray.zkvm.rv32im_air.mul import MUL_BUS, MUL_OPS
from zkray.zkvm.rv32im_air.shift import SHIFT_BUS
from zkray.zkvm.rv32im_air.tables import BITWISE_BUS, BYTES_BUS, NOMINAL_LOG_N, PROGRAM_BUS

END_BUS = "end"
ECALLS = {"halt": 93, "read": 63, "write": 64}  # the CPU's flag for each ECALL service, by its a7 number
CPU_OPS = tuple(op for op in OPS if op != "ecall") + tuple(ECALLS)
A2 = 12  # the register holding an ECALL's length, read in the memory slot
PUBLIC_PC, PUBLIC_INPUT_POS, PUBLIC_JOURNAL_LEN, PUBLIC_INPUT_LEN = range(4)  # segment.public_inputs' order

L = Layout()
REAL, CLK, PC, NPC = L.col("real"), L.col("clk"), L.col("pc"), L.col("next_pc")
WR, RD, RS1, RS2, TARGET = L.col("wr"), L.col("rd"), L.col("rs1"), L.col("rs2"), L.col("target")
IMM = L.cols("imm", 4)
FLAG = {op: L.col(f"is_{op}") for op in CPU_OPS}
A, B = L.cols("rs1_val", 4), L.cols("rs2_val", 4)
OLD, RES = L.cols("rd_old", 4), L.cols("result", 4)
MEMV, RO = L.cols("mem_old", 4), L.col("mem_ro")  # on read/write ECALL rows: a2's value (ro unused)
MNEW = L.cols("mem_new", 4)  # the word after the access (= mem_old for loads)
OFFSET = L.cols("byte_offset", 4)  # one-hot: the address's low two bits, on load/store rows
SEL_BYTE, SEL_HALF = L.col("sel_byte"), L.cols("sel_half", 2)  # the addressed byte / half-word of mem_old
LOAD_TOP, LOAD_SIGN = L.col("load_top"), L.col("load_sign")  # the loaded value's top byte and its sign bit
SUM, CARRY = L.cols("sum", 4), L.cols("carry", 4)
DIFF, BORROW = L.cols("diff", 4), L.cols("borrow", 4)
SIGN_A, SIGN_Q, LT, EQ, DIFF_INV = L.col("sign_a"), L.col("sign_q"), L.col("lt"), L.col("eq"), L.col("diff_inv")
LOW = L.col("low")  # SUM byte 0 without its low bits: s0 = 4·low + offset (loads/stores), 2·low + bit (JALR)
IN_POS, J_POS, IOC = L.col("input_pos"), L.col("journal_pos"), L.col("io_bytes")  # stream positions, bytes moved
LAST = L.col("last")  # the last real row
SLOTS = 4
T_PREV = L.cols("t_prev", SLOTS)
T_GAP = tuple(L.cols(f"t_gap{s}", 3) for s in range(SLOTS))
WIDTH = L.width


def word(r: Sequence[Val], cols: Sequence[int]) -> Val:
    return r[cols[0]] + 256 * r[cols[1]] + 65536 * r[cols[2]] + (1 << 24) * r[cols[3]]


def flag(r: Sequence[Val], *ops: str) -> Val:
    total: Val = r[FLAG[ops[0]]]
    for op in ops[1:]:
        total = total + r[FLAG[op]]
    return total


def timestamp(r: Sequence[Val], slot: int) -> Val:
    return 4 * r[CLK] + (slot + 1)


def op_id(r: Sequence[Val]) -> Val:
    """Σ id·flag: with one-hot flags, the decoded op id of the row's instruction (the three ECALL flags
    all carry ECALL's id: the decoder cannot tell them apart, a7 does)."""
    ids = [(OP_ID[op if op not in ECALLS else "ecall"], r[FLAG[op]]) for op in CPU_OPS]
    total = ids[0][0] * ids[0][1]
    for k, f in ids[1:]:
        total = total + k * f
    return total


def is_io(r: Sequence[Val]) -> Val:
    """Read or write ECALL: bytes move between the streams and RAM."""
    return r[FLAG["read"]] + r[FLAG["write"]]


def ram_t(r: Sequence[Val]) -> Val:
    """The RAM clock: clk + 1 + bytes moved before this row (io bytes take the values in between)."""
    return r[CLK] + 1 + r[IOC]


def io_count(r: Sequence[Val]) -> Val:
    """An ECALL read/write's byte count: its result (a0) as a word."""
    return word(r, RES)


def stream_pos(r: Sequence[Val]) -> Val:
    """Where a read/write ECALL starts in its stream: the input position or the journal length."""
    return r[FLAG["read"]] * r[IN_POS] + r[FLAG["write"]] * r[J_POS]


def q_sum(r: Sequence[Val], k: int) -> Val:
    """SUM's second operand, byte k: rs2 value for ADD, the immediate otherwise."""
    f = r[FLAG["add"]]
    return f * r[B[k]] + (1 - f) * r[IMM[k]]


def diff_a(r: Sequence[Val], k: int) -> Val:
    """DIFF's first operand, byte k: a2 (the length asked for) on read ECALLs, rs1's value otherwise."""
    f = r[FLAG["read"]]
    return f * r[MEMV[k]] + (1 - f) * r[A[k]]


def q_diff(r: Sequence[Val], k: int) -> Val:
    """DIFF's second operand, byte k: the immediate for SLTI/SLTIU, the bytes read for read ECALLs (so
    DIFF = a2 − count must not borrow: a read copies at most a2 bytes), rs2's value otherwise."""
    f, g = flag(r, "slti", "sltiu"), r[FLAG["read"]]
    return f * r[IMM[k]] + g * r[RES[k]] + (1 - f - g) * r[B[k]]


LOGIC = (("and", "andi"), ("or", "ori"), ("xor", "xori"))
"""Bitwise ops, by their index on the bitwise bus (tables.BITWISE_OPS)."""


def is_logic(r: Sequence[Val]) -> Val:
    return flag(r, *(op for pair in LOGIC for op in pair))


def logic_op(r: Sequence[Val]) -> Val:
    """The row's bitwise op index (0 AND, 1 OR, 2 XOR), with one-hot flags."""
    return flag(r, *LOGIC[1]) + 2 * flag(r, *LOGIC[2])


def q_logic(r: Sequence[Val], k: int) -> Val:
    """Bitwise second operand, byte k: rs2 value for AND/OR/XOR, the immediate for ANDI/ORI/XORI."""
    f = flag(r, "and", "or", "xor")
    return f * r[B[k]] + (1 - f) * r[IMM[k]]


SHIFTS = (("sll", "slli"), ("srl", "srli"), ("sra", "srai"))
"""Shift ops, by their index on the shift bus (shift.SHIFT_OPS)."""


def is_shift(r: Sequence[Val]) -> Val:
    return flag(r, *(op for pair in SHIFTS for op in pair))


def shift_op(r: Sequence[Val]) -> Val:
    return flag(r, *SHIFTS[1]) + 2 * flag(r, *SHIFTS[2])


def shift_amount_byte(r: Sequence[Val]) -> Val:
    """The shift operand's low byte: rs2's for SLL/SRL/SRA, the immediate's for the I forms."""
    f = flag(r, "sll", "srl", "sra")
    return f * r[B[0]] + (1 - f) * r[IMM[0]]


def is_mul(r: Sequence[Val]) -> Val:
    return flag(r, *MUL_OPS)


def mul_op(r: Sequence[Val]) -> Val:
    return r[FLAG["mulh"]] + 2 * r[FLAG["mulhsu"]] + 3 * r[FLAG["mulhu"]]


def is_div(r: Sequence[Val]) -> Val:
    return flag(r, *DIV_OPS)


def div_op(r: Sequence[Val]) -> Val:
    return r[FLAG["divu"]] + 2 * r[FLAG["rem"]] + 3 * r[FLAG["remu"]]


def rd_new(r: Sequence[Val], k: int) -> Val:
    """The value left in rd: the result when the instruction writes (wr), else the old value unchanged."""
    return r[WR] * r[RES[k]] + (1 - r[WR]) * r[OLD[k]]


LOADS, STORES = ("lw", "lh", "lhu", "lb", "lbu"), ("sw", "sh", "sb")


def is_mem(r: Sequence[Val]) -> Val:
    return flag(r, *LOADS, *STORES)


def word_address(r: Sequence[Val]) -> Val:
    """The accessed word's address: the SUM with its low two bits dropped (below 2^28: top byte < 16)."""
    return 4 * r[LOW] + 256 * r[SUM[1]] + 65536 * r[SUM[2]] + (1 << 24) * r[SUM[3]]


def mem_new(r: Sequence[Val], k: int) -> Val:
    """The word after a store, byte k: rs2's word (SW), half (SH) or byte (SB) at the offset; else unchanged."""
    o, b0, b1 = r[OFFSET[k]], r[B[0]], r[B[1]]
    half_k = (r[OFFSET[0]] if k < 2 else r[OFFSET[2]])  # 1 when byte k lies in the addressed half
    half_v = b0 if k % 2 == 0 else b1
    keep = 1 - flag(r, *STORES)
    return (r[FLAG["sw"]] * r[B[k]] + r[FLAG["sb"]] * (o * b0 + (1 - o) * r[MEMV[k]])
            + r[FLAG["sh"]] * (half_k * half_v + (1 - half_k) * r[MEMV[k]]) + keep * r[MEMV[k]])


def t_gap(r: Sequence[Val], slot: int) -> Val:
    g = T_GAP[slot]
    return r[g[0]] + 256 * r[g[1]] + 65536 * r[g[2]]


def taken(r: Sequence[Val]) -> Val:
    """1 when the row's branch is taken (0 on non-branch rows)."""
    eq, lt, ltu = r[EQ], r[LT], r[BORROW[3]]
    return (r[FLAG["beq"]] * eq + r[FLAG["bne"]] * (1 - eq) + r[FLAG["blt"]] * lt + r[FLAG["bge"]] * (1 - lt)
            + r[FLAG["bltu"]] * ltu + r[FLAG["bgeu"]] * (1 - ltu))


def jalr_target(r: Sequence[Val]) -> Val:
    """(rs1 + imm) with bit 0 cleared: s0 = 2·low + bit, so the target is 2·low + 256·s1 + …"""
    return 2 * r[LOW] + 256 * r[SUM[1]] + 65536 * r[SUM[2]] + (1 << 24) * r[SUM[3]]


class CpuAir(Air):
    """See the module docstring; every constraint below is gated so padding rows (real = 0) are free."""

    name = "rv32im-cpu"
    version = 4
    main_width = WIDTH
    max_degree = 3

    def log_trace_length(self, public: Sequence[int]) -> int:
        return NOMINAL_LOG_N

    def sample_public(self) -> tuple[int, ...]:
        return (0x1_0000, 0, 0, 0)  # start pc, input position, journal length, input length

    def eval(self, b: ConstraintBuilder) -> None:
        r, nx = b.main, b.main_next
        real = r[REAL]
        # --- control: a prefix of real rows from the start pc; the last one's outcome goes to the statement
        b.assert_zero("real is boolean", real * (real - 1))
        b.assert_row("the first row is real", real - 1, 0)
        # a power-of-two segment fills its rows exactly: the final row is either padding or the last real row
        b.assert_row("the final row, if real, is the last one", r[LAST] - real, -1)
        b.assert_transition("real rows come first", (1 - real) * nx[REAL])
        b.assert_row("clk starts at 0", r[CLK], 0)
        b.assert_transition("clk steps by 1", nx[CLK] - r[CLK] - 1)
        b.assert_row("execution starts at the claim's start pc", r[PC] - b.public[PUBLIC_PC], 0)
        total: Val = Val.const(0)
        for op in CPU_OPS:
            f = r[FLAG[op]]
            b.assert_zero(f"is_{op} is boolean", f * (f - 1))
            total = total + f
        b.assert_zero("a real row runs exactly one op, padding none", total - real)
        halt, read, write = r[FLAG["halt"]], r[FLAG["read"]], r[FLAG["write"]]
        last = r[LAST]
        b.assert_zero("last is boolean", last * (last - 1))
        b.assert_zero("only a real row is last", last * (1 - real))
        b.assert_transition("last = a real row followed by padding", last - real * (1 - nx[REAL]))  # final row: above
        b.assert_transition("nothing runs after the halt", halt * nx[REAL])
        b.assert_transition("the next real row runs at next_pc", nx[REAL] * (nx[PC] - r[NPC]))
        # --- streams: positions start at the claim's, advance by each read/write's count
        b.assert_row("the input position starts at the claim's", r[IN_POS] - b.public[PUBLIC_INPUT_POS], 0)
        b.assert_row("the journal length starts at the claim's", r[J_POS] - b.public[PUBLIC_JOURNAL_LEN], 0)
        b.assert_transition("a read advances the input position by its count",
                            nx[REAL] * (nx[IN_POS] - r[IN_POS] - read * io_count(r)))
        b.assert_transition("a write advances the journal length by its count",
                            nx[REAL] * (nx[J_POS] - r[J_POS] - write * io_count(r)))
        b.assert_zero("io bytes = bytes moved since the segment start",
                      r[IOC] - r[IN_POS] - r[J_POS] + b.public[PUBLIC_INPUT_POS] + b.public[PUBLIC_JOURNAL_LEN])

        # --- SUM unit: s = a + Q byte-wise with boolean carries (the carry out of byte 3 wraps mod 2^32)
        carry_in: Val = Val.const(0)
        for k in range(4):
            c = r[CARRY[k]]
            b.assert_zero(f"carry {k} is boolean", c * (c - 1))
            b.assert_zero(f"sum byte {k}: s + 256·carry = a + Q + carry in",
                          r[SUM[k]] + 256 * c - r[A[k]] - q_sum(r, k) - carry_in)
            carry_in = c
        # --- DIFF unit: d = a − Q2 byte-wise with boolean borrows; the last borrow is a <u Q2
        borrow_in: Val = Val.const(0)
        for k in range(4):
            w = r[BORROW[k]]
            b.assert_zero(f"borrow {k} is boolean", w * (w - 1))
            b.assert_zero(f"diff byte {k}: d − 256·borrow = a − Q2 − borrow in",
                          r[DIFF[k]] - 256 * w - diff_a(r, k) + q_diff(r, k) + borrow_in)
            borrow_in = w
        sa, sq, ltu = r[SIGN_A], r[SIGN_Q], r[BORROW[3]]
        b.assert_zero("sign of a is boolean", sa * (sa - 1))
        b.assert_zero("sign of Q2 is boolean", sq * (sq - 1))
        b.assert_zero("lt = signed a < Q2: a's sign if the signs differ, else the unsigned borrow",
                      r[LT] - sa * (1 - sq) - (sa * sq + (1 - sa) * (1 - sq)) * ltu)
        dsum = r[DIFF[0]] + r[DIFF[1]] + r[DIFF[2]] + r[DIFF[3]]  # bytes: zero iff every byte is
        b.assert_zero("eq = 1 forces d = 0", r[EQ] * dsum)
        b.assert_zero("eq = 0 forces d ≠ 0 (d has an inverse)", dsum * r[DIFF_INV] - (1 - r[EQ]))

        # --- results (rd is written with them only when wr; see rd_new)
        for k in range(4):
            b.assert_zero(f"ADD/ADDI/LUI/AUIPC: result byte {k} = SUM",
                          flag(r, "add", "addi") * (r[RES[k]] - r[SUM[k]]))
            b.assert_zero(f"SUB: result byte {k} = DIFF", r[FLAG["sub"]] * (r[RES[k]] - r[DIFF[k]]))
            b.assert_zero(f"LW: result byte {k} = the memory word", r[FLAG["lw"]] * (r[RES[k]] - r[MEMV[k]]))
            b.assert_zero(f"stores: mem_new byte {k} merges rs2 into the word", r[MNEW[k]] - mem_new(r, k))
            if k:
                b.assert_zero(f"SLT*: result byte {k} = 0", flag(r, "slt", "slti", "sltu", "sltiu") * r[RES[k]])
            if k >= 2:
                b.assert_zero(f"LH: result byte {k} = the sign fill",
                              r[FLAG["lh"]] * (r[RES[k]] - 255 * r[LOAD_SIGN]))
                b.assert_zero(f"LHU: result byte {k} = 0", r[FLAG["lhu"]] * r[RES[k]])
            if k >= 1:
                b.assert_zero(f"LB: result byte {k} = the sign fill",
                              r[FLAG["lb"]] * (r[RES[k]] - 255 * r[LOAD_SIGN]))
                b.assert_zero(f"LBU: result byte {k} = 0", r[FLAG["lbu"]] * r[RES[k]])
        o = [r[c] for c in OFFSET]
        sel = o[0] * r[MEMV[0]] + o[1] * r[MEMV[1]] + o[2] * r[MEMV[2]] + o[3] * r[MEMV[3]]
        b.assert_zero("sel_byte = the addressed byte", r[SEL_BYTE] - sel)
        for k in range(2):
            b.assert_zero(f"sel_half byte {k} = the addressed half's", r[SEL_HALF[k]] - o[0] * r[MEMV[k]]
                          - o[2] * r[MEMV[k + 2]])
        b.assert_zero("LB/LBU: result byte 0 = the addressed byte",
                      flag(r, "lb", "lbu") * (r[RES[0]] - r[SEL_BYTE]))
        for k in range(2):
            b.assert_zero(f"LH/LHU: result byte {k} = the addressed half's",
                          flag(r, "lh", "lhu") * (r[RES[k]] - r[SEL_HALF[k]]))
        b.assert_zero("load_top = the loaded byte (LB) or the half's high byte (LH), else 0",
                      r[LOAD_TOP] - r[FLAG["lb"]] * r[SEL_BYTE] - r[FLAG["lh"]] * r[SEL_HALF[1]])
        b.assert_zero("load_sign is boolean", r[LOAD_SIGN] * (r[LOAD_SIGN] - 1))
        b.assert_zero("SLT/SLTI: result = signed less-than", flag(r, "slt", "slti") * (r[RES[0]] - r[LT]))
        b.assert_zero("SLTU/SLTIU: result = unsigned less-than", flag(r, "sltu", "sltiu") * (r[RES[0]] - ltu))
        b.assert_zero("JAL/JALR: result = pc + 4 (top byte < 64, so the bytes are the integer)",
                      flag(r, "jal", "jalr") * (word(r, RES) - r[PC] - 4))

        # --- next pc
        seq = r[PC] + 4
        b.assert_zero("next_pc: pc + 4, or the branch/JAL target when taken, or the JALR target; exit: pc",
                      r[NPC] - seq - taken(r) * (r[TARGET] - seq) - r[FLAG["jal"]] * (r[TARGET] - seq)
                      - r[FLAG["jalr"]] * (jalr_target(r) - seq) + 4 * halt)
        low_bit = r[SUM[0]] - 2 * r[LOW]
        b.assert_zero("JALR: s0 − 2·low is one bit (the bit the target drops)",
                      r[FLAG["jalr"]] * low_bit * (low_bit - 1))

        # --- memory: word-aligned addresses, no stores to read-only (code) words
        mem = is_mem(r)
        total_o = o[0] + o[1] + o[2] + o[3]
        for k in range(4):
            b.assert_zero(f"byte_offset {k} is boolean", o[k] * (o[k] - 1))
        b.assert_zero("a load/store row has exactly one byte offset, other rows none", total_o - mem)
        b.assert_zero("loads/stores: s0 = 4·low + offset (the word address drops the offset)",
                      mem * (r[SUM[0]] - 4 * r[LOW] - o[1] - 2 * o[2] - 3 * o[3]))
        b.assert_zero("LW/SW: the address is word-aligned", flag(r, "lw", "sw") * (1 - o[0]))
        b.assert_zero("LH/LHU/SH: the address is half-aligned", flag(r, "lh", "lhu", "sh") * (o[1] + o[3]))
        b.assert_zero("stores never write a read-only word", flag(r, *STORES) * r[RO])

        # --- ECALL: the flag matches a7; exit keeps a0 (the exit code, sent to the statement); read takes
        # fd 0 and copies count ≤ a2 bytes (DIFF = a2 − count does not borrow); write takes fd 1 and
        # copies a2 bytes. The io chip moves the bytes (io.py); a0 := count.
        ecall = halt + read + write
        b.assert_zero("ECALL: a7 byte 0 = 93 (exit), 63 (read) or 64 (write), as the flag says",
                      ecall * r[A[0]] - sum((n * r[FLAG[op]] for op, n in ECALLS.items()), Val.const(0)))
        for k in range(1, 4):
            b.assert_zero(f"ECALL: a7 byte {k} is 0", ecall * r[A[k]])
        for k in range(4):
            b.assert_zero(f"exit: a0 byte {k} is left unchanged", halt * (r[RES[k]] - r[OLD[k]]))
            b.assert_zero(f"read: fd (a0) byte {k} is 0 (stdin)", read * r[OLD[k]])
            b.assert_zero(f"write: fd (a0) byte {k} is {int(k == 0)} (stdout)", write * (r[OLD[k]] - int(k == 0)))
            b.assert_zero(f"write: count byte {k} = a2's", write * (r[RES[k]] - r[MEMV[k]]))
        b.assert_zero("read: count ≤ a2 (a2 − count does not borrow)", read * r[BORROW[3]])
        # count = min(a2, input_len − input_pos): with count ≤ a2 above and count ≤ input_len − input_pos
        # (the io chain's stream positions never pass the claim's end.input_pos ≤ input_len), it remains that
        # count is one of the two. eq is DIFF = a2 − count being 0 as an integer (range-checked bytes, no
        # borrow), so a2 ≡ count + p cannot pass; input_len − input_pos − count lies in (−2^28, 2^30), so it
        # is 0 mod p only when it is 0. Without this a prover could return fewer bytes mid-input (a false EOF).
        b.assert_zero("read: count = a2 unless the read reaches the end of the input",
                      read * (1 - r[EQ]) * (b.public[PUBLIC_INPUT_LEN] - r[IN_POS] - io_count(r)))

        # --- timestamps: t − t_prev − 1 = the range-checked gap (the memory slot: RAM clock for loads and
        # stores, the register clock for an ECALL's a2 read)
        for s in range(SLOTS):
            if s == 2:
                b.assert_zero("slot 2 (RAM): t_prev = t_ram − 1 − gap (so t_prev < t_ram)",
                              mem * (ram_t(r) - r[T_PREV[s]] - 1 - t_gap(r, s)))
                b.assert_zero("slot 2 (a2 on read/write ECALLs): t_prev = t − 1 − gap",
                              is_io(r) * (timestamp(r, s) - r[T_PREV[s]] - 1 - t_gap(r, s)))
            else:
                b.assert_zero(f"slot {s}: t_prev = t − 1 − gap (so t_prev < t)",
                              real * (timestamp(r, s) - r[T_PREV[s]] - 1 - t_gap(r, s)))


def _reg_access(slot: int, index: int, before: Sequence[int], after: object = None) -> tuple[Interaction, ...]:
    """Consume (reg, value, t_prev) and produce (reg, value', t) on every real row."""
    def old(r: Sequence[Val]) -> list[Val]:
        return [r[index], *(r[c] for c in before), r[T_PREV[slot]]]

    def new(r: Sequence[Val]) -> list[Val]:
        vals = [rd_new(r, k) for k in range(4)] if after == "rd" else [r[c] for c in before]
        return [r[index], *vals, timestamp(r, slot)]

    return (Interaction.receive(REG_BUS, old, lambda r: r[REAL]), Interaction.send(REG_BUS, new, lambda r: r[REAL]))




def _pair(x: object, y: object, mult: object = lambda r: r[REAL]) -> Interaction:
    return Interaction.send(BYTES_BUS, lambda r: [x(r), y(r)], mult)  # type: ignore[operator]


def _interactions() -> tuple[Interaction, ...]:
    fetch = Interaction.send(PROGRAM_BUS, lambda r: [r[PC], op_id(r), r[WR], r[RD], r[RS1], r[RS2],
                                                     *(r[c] for c in IMM), r[TARGET]], lambda r: r[REAL])
    mem = (
        Interaction.receive(MEM_BUS, lambda r: [word_address(r), *(r[c] for c in MEMV), r[T_PREV[2]], r[RO]],
                            is_mem),
        Interaction.send(MEM_BUS, lambda r: [word_address(r), *(r[c] for c in MNEW), ram_t(r), r[RO]], is_mem),
    )
    # read/write ECALLs: a2 through the memory slot; the io chip's chain from (kind, clk, buffer, stream
    # position, t_ram) to the same advanced by the count (io.py)
    a2 = (Interaction.receive(REG_BUS, lambda r: [A2, *(r[c] for c in MEMV), r[T_PREV[2]]], is_io),
          Interaction.send(REG_BUS, lambda r: [A2, *(r[c] for c in MEMV), timestamp(r, 2)], is_io))
    io = (Interaction.send(IO_BUS, lambda r: [r[FLAG["write"]], r[CLK], word(r, B), stream_pos(r), ram_t(r)], is_io),
          Interaction.receive(IO_BUS, lambda r: [r[FLAG["write"]], r[CLK], word(r, B) + io_count(r),
                                                 stream_pos(r) + io_count(r), ram_t(r) + io_count(r)], is_io))
    # AND/OR/XOR(I): each result byte is looked up in the byte table as (op, a byte, operand byte, result byte)
    logic = tuple(Interaction.send(BITWISE_BUS, lambda r, k=k: [logic_op(r), r[A[k]], q_logic(r, k), r[RES[k]]],
                                   is_logic) for k in range(4))
    # shifts: the whole (op, a, amount byte, result) goes to the shift chip
    shift = Interaction.send(SHIFT_BUS, lambda r: [shift_op(r), *(r[c] for c in A), shift_amount_byte(r),
                                                   *(r[c] for c in RES)], is_shift)
    # MUL/MULH/MULHSU/MULHU: (op, a, b, result) goes to the multiply chip
    mul = Interaction.send(MUL_BUS, lambda r: [mul_op(r), *(r[c] for c in A), *(r[c] for c in B),
                                               *(r[c] for c in RES)], is_mul)
    # DIV/DIVU/REM/REMU: (op, a, b, result) goes to the divide chip
    div = Interaction.send(DIV_BUS, lambda r: [div_op(r), *(r[c] for c in A), *(r[c] for c in B),
                                               *(r[c] for c in RES)], is_div)
    # the statement's end: (halted, next pc — the exit's own pc when halted —, exit code or 0)
    end = Interaction.send(END_BUS, lambda r: [r[FLAG["halt"]], r[NPC], *(r[FLAG["halt"]] * r[c] for c in OLD)],
                           lambda r: r[LAST])
    g = T_GAP
    ranges = (
        # the result bytes (everything written to a register is a word of bytes)
        _pair(lambda r: r[RES[0]], lambda r: r[RES[1]]), _pair(lambda r: r[RES[2]], lambda r: r[RES[3]]),
        _pair(lambda r: r[SUM[0]], lambda r: r[SUM[1]]), _pair(lambda r: r[SUM[2]], lambda r: r[SUM[3]]),
        _pair(lambda r: r[DIFF[0]], lambda r: r[DIFF[1]]), _pair(lambda r: r[DIFF[2]], lambda r: r[DIFF[3]]),
        # sign bits: a3 − 128·sign and Q2_3 − 128·sign are below 128 (twice them is a byte)
        _pair(lambda r: 2 * (diff_a(r, 3) - 128 * r[SIGN_A]), lambda r: 2 * (q_diff(r, 3) - 128 * r[SIGN_Q])),
        # read/write ECALLs: the buffer and the count are below 2^28, so buffer + i never wraps mod p and the
        # count equals the io chain's length as an integer (a read of a2 ≥ p bytes cannot claim count − p)
        _pair(lambda r: 16 * r[B[3]], lambda r: 16 * r[RES[3]], is_io),
        # LW/SW/JALR: low is a byte and the SUM's top byte is < 16 (the address/target is below 2^28)
        _pair(lambda r: r[LOW], lambda r: 16 * r[SUM[3]], lambda r: is_mem(r) + r[FLAG["jalr"]]),
        # LB/LH: load_top − 128·sign is below 128, so load_sign is the loaded value's sign bit
        _pair(lambda r: 2 * (r[LOAD_TOP] - 128 * r[LOAD_SIGN]), lambda r: 0),
        # JAL/JALR: the link's top byte is < 64, so pc + 4 = its bytes as an integer below p
        _pair(lambda r: 4 * r[RES[3]], lambda r: 0, lambda r: flag(r, "jal", "jalr")),
        *(_pair(lambda r, s=s: r[g[s][0]], lambda r, s=s: r[g[s][1]]) for s in range(SLOTS)),
        _pair(lambda r: r[g[0][2]], lambda r: r[g[1][2]]), _pair(lambda r: r[g[2][2]], lambda r: r[g[3][2]]),
    )
    return (fetch, *_reg_access(0, RS1, A), *_reg_access(1, RS2, B), *mem, *a2, *_reg_access(3, RD, OLD, "rd"),
            *logic, shift, mul, div, *io, end, *ranges)


CPU = Chip(CpuAir(), _interactions())
