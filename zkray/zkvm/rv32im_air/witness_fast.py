"""Fast trace generation: the same traces as `witness.generate_reference`, built column by column.

The reference replays the segment one cycle at a time in Python (~3 s for 2^13 cycles). Here only what is
truly sequential runs in a loop, compiled with numba (`_replay`): the register file and the RAM words with
their last-access timestamps, the stream positions and the io chip's byte rows. It takes the values
written to registers from the executor's trace (`rd_val`), so every operand is known without computing a
result first; everything that depends only on a row's operands — the SUM/DIFF units, results, next pc,
load/store selections, timestamps' gaps, the shift/mul/div chips' rows — is then computed with numpy over
whole columns. The cross-checks of the reference are all kept (each result, next pc, memory access and the
end state against the executor; a disagreement is a `ProofError` naming the first cycle), so using
`rd_val` as the written value is sound for the prover: a row whose computed result differs is refused.
`tests/zkvm/test_rv32im_air_witness.py` checks both generators give identical traces.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

from zkray.zkvm import field as F
from zkray.zkvm.elf import Program
from zkray.zkvm.errors import ProofError
from zkray.zkvm.rv32im.segment import SegmentRun
from zkray.zkvm.rv32im.trace import E_CYCLE, E_NUMBER, E_RESULT
from zkray.zkvm.rv32im_air import cpu as C
from zkray.zkvm.rv32im_air import div as V
from zkray.zkvm.rv32im_air import io as IO
from zkray.zkvm.rv32im_air import memory as M
from zkray.zkvm.rv32im_air import mul as U
from zkray.zkvm.rv32im_air import shift as S
from zkray.zkvm.rv32im_air import tables as T
from zkray.zkvm.rv32im_air.decode import code_addresses, program_table

MASK = 0xFFFF_FFFF
OPC = {op: k for k, op in enumerate(C.CPU_OPS)}  # the CPU's op index (its flag), ECALLs split by service
ECALL = -2  # a decoded ECALL, whose service (exit 93, read 63, write 64: cpu.ECALLS) the replay reads from a7
_STORE_WIDTH = np.zeros(len(C.CPU_OPS), dtype=np.int64)
for _op, _w in (("sw", 4), ("sh", 2), ("sb", 1)):
    _STORE_WIDTH[OPC[_op]] = _w
_IS_LOAD = np.array([op in C.LOADS for op in C.CPU_OPS], dtype=np.bool_)
_INV = np.array([0] + [pow(v, F.P - 2, F.P) for v in range(1, 2048)], dtype=np.int64)
"""Inverses of the small sums the chips invert (DIFF/remainder/divisor byte sums, the overflow candidate)."""
assert C.ECALLS == {"halt": 93, "read": 63, "write": 64} and C.A2 == 12  # hard-coded in the compiled _replay


@lru_cache(maxsize=8)
def _decoded(program: Program) -> tuple[np.ndarray, ...]:
    """The program table as arrays sorted by pc: pc, CPU op index (ECALL for ecall), wr, rd, rs1, rs2, imm,
    target, and its bus fields (cached: every segment of a program decodes the same table)."""
    table = program_table(program)
    pcs = np.array([d.pc for d in table], dtype=np.int64)
    ops = np.array([ECALL if d.op == "ecall" else OPC[d.op] for d in table], dtype=np.int64)
    cols = np.array([(d.wr, d.rd, d.rs1, d.rs2, d.imm, d.target) for d in table], dtype=np.int64).reshape(-1, 6)
    fields = np.array([d.fields() for d in table], dtype=np.int64).reshape(len(table), -1)
    return pcs, ops, *cols.T, fields


@lru_cache(maxsize=8)
def _code_array(program: Program) -> np.ndarray:
    return np.array(sorted(code_addresses(program)), dtype=np.int64)


# rows of the replay's per-cycle output
R_A, R_B, R_OLD, R_TP, R_MEMV, R_MNEW, R_IN, R_J, R_IORES = 0, 1, 2, 3, 7, 8, 9, 10, 11  # R_TP..R_TP+3: t_prev
OUT_ROWS = 12
# rows of the replay's io output (one column per byte moved)
I_WRITE, I_CLK, I_ADDR, I_POS, I_T, I_BYTE, I_WADDR, I_WORD, I_TPREV, I_OFF, I_OLD, I_NEW = range(12)
IO_ROWS = 12


@numba.njit(cache=True)
def _replay(op: np.ndarray, rs1: np.ndarray, rs2: np.ndarray, rd: np.ndarray, wr: np.ndarray, imm: np.ndarray,
            rd_val: np.ndarray, mem_addr: np.ndarray, mem_before: np.ndarray, mem_after: np.ndarray,
            regs: np.ndarray, reg_t: np.ndarray, e_cycle: np.ndarray, e_number: np.ndarray, e_result: np.ndarray,
            chunk: np.ndarray, in0: int, j0: int, words: np.ndarray, values: np.ndarray, ram_t: np.ndarray,
            store_width: np.ndarray, is_load: np.ndarray, halt: int, read: int, write: int, out: np.ndarray,
            io: np.ndarray) -> tuple[int, int, int, int, int]:
    """Run the segment's state forward (module docstring): `regs`, `reg_t`, `values` (the listed words) and
    `ram_t` are updated in place, `op` too for ECALL rows (the service a7 names); `out` gets the R_* rows
    per cycle, `io` the I_* rows per byte moved. Returns (error code, cycle, io rows used, in_pos, j_pos)."""
    n = op.shape[0]
    in_pos, j_pos, e, m = in0, j0, 0, 0
    for i in range(n):
        a, b, o = regs[rs1[i]], regs[rs2[i]], regs[rd[i]]
        if op[i] == -2:
            number = regs[17]
            op[i] = halt if number == 93 else read if number == 63 else write if number == 64 else -2
            if op[i] == -2:
                return 1, i, m, in_pos, j_pos
        k = op[i]
        out[0, i], out[1, i], out[2, i] = a, b, o
        out[3, i] = reg_t[rs1[i]]
        reg_t[rs1[i]] = 4 * i + 1
        out[4, i] = reg_t[rs2[i]]  # after slot 0's update: rs2 may be rs1
        reg_t[rs2[i]] = 4 * i + 2
        out[9, i], out[10, i] = in_pos, j_pos
        t_ram = i + 1 + in_pos - in0 + j_pos - j0
        if k == read or k == write:
            a2 = regs[12]
            out[7, i], out[8, i], out[5, i] = a2, a2, reg_t[12]
            reg_t[12] = 4 * i + 3
            while e < e_cycle.shape[0] and e_cycle[e] < i:
                e += 1
            if e >= e_cycle.shape[0] or e_cycle[e] != i or e_number[e] != regs[17]:
                return 2, i, m, in_pos, j_pos
            res = e_result[e]
            out[11, i] = res
            if (k == read and in_pos - in0 + res > chunk.shape[0]) or m + res > io.shape[1]:
                return 3, i, m, in_pos, j_pos
            for j in range(res):
                addr = b + j
                waddr, off = addr & ~3, addr & 3
                w = np.searchsorted(words, waddr)
                if w >= words.shape[0] or words[w] != waddr:
                    return 4, i, m, in_pos, j_pos
                old = values[w]
                if k == read:
                    byte = np.int64(chunk[in_pos - in0 + j])
                    new = (old & ~(0xFF << 8 * off)) | (byte << 8 * off)
                    io[0, m], io[3, m] = 0, in_pos + j
                else:
                    byte = (old >> 8 * off) & 0xFF
                    new = old
                    io[0, m], io[3, m] = 1, j_pos + j
                io[1, m], io[2, m], io[4, m], io[5, m] = i, addr, t_ram + j, byte
                io[6, m], io[7, m], io[8, m], io[9, m] = waddr, w, ram_t[w], off
                io[10, m], io[11, m] = old, new
                values[w], ram_t[w] = new, t_ram + j
                m += 1
            if k == read:
                in_pos += res
            else:
                j_pos += res
        elif store_width[k] > 0 or is_load[k]:
            s = (a + imm[i]) & 0xFFFFFFFF
            if s != mem_addr[i]:
                return 5, i, m, in_pos, j_pos
            waddr, off = s & ~3, s & 3
            w = np.searchsorted(words, waddr)
            if w >= words.shape[0] or words[w] != waddr:
                return 4, i, m, in_pos, j_pos
            old = values[w]
            new = old
            if store_width[k] > 0:
                mask = ((1 << 8 * store_width[k]) - 1) << 8 * off
                new = ((old & ~mask) | ((b << 8 * off) & mask)) & 0xFFFFFFFF
            if new != mem_after[i] or old != mem_before[i]:
                return 6, i, m, in_pos, j_pos
            out[7, i], out[8, i], out[5, i] = old, new, ram_t[w]
            values[w], ram_t[w] = new, t_ram
        out[6, i] = reg_t[rd[i]]
        reg_t[rd[i]] = 4 * i + 4
        if wr[i] and k != halt:
            regs[rd[i]] = rd_val[i]
    return 0, n, m, in_pos, j_pos


def _height(rows: int) -> int:
    return max(2, 1 << max(rows - 1, 1).bit_length())


def _put(t: np.ndarray, cols: tuple[int, ...], v: np.ndarray, rows: slice | np.ndarray = slice(None)) -> None:
    """Write the little-endian bytes of the words `v` into the byte columns `cols` (at `rows`)."""
    for k, c in enumerate(cols):
        t[c, rows] = (v >> 8 * k) & 0xFF


def _byte_sum(v: np.ndarray) -> np.ndarray:
    return (v & 0xFF) + ((v >> 8) & 0xFF) + ((v >> 16) & 0xFF) + ((v >> 24) & 0xFF)


def _signed(v: np.ndarray) -> np.ndarray:
    return v - ((v >> 31) << 32)


def _gaps(t: np.ndarray, slot: int, rows: np.ndarray, now: np.ndarray, prev: np.ndarray) -> None:
    t[C.T_PREV[slot], rows] = prev
    _put(t, C.T_GAP[slot], now - prev - 1, rows)


def generate(program: Program, run: SegmentRun) -> list[np.ndarray]:
    """The traces of `segment.SEGMENT_CHIPS` (in that order) for one segment; equal to the reference's."""
    tr = run.trace
    cycles = len(tr)
    if cycles != run.cycles or cycles < 1:
        raise ProofError(f"the segment's trace has {cycles} rows for {run.cycles} cycles")
    pcs_t, ops_t, wr_t, rd_t, rs1_t, rs2_t, imm_t, target_t, fields_t = _decoded(program)
    pc = tr.pc.astype(np.int64)
    at = np.minimum(np.searchsorted(pcs_t, pc), max(len(pcs_t) - 1, 0))
    bad = np.ones(cycles, dtype=bool) if not len(pcs_t) else pcs_t[at] != pc
    if bad.any():
        i = int(np.argmax(bad))
        raise ProofError(f"cycle {i}: instruction {int(tr.insn[i]):#010x} at pc {int(pc[i]):#x} is not in the program "
                         "table (the AIR executes only words of the ELF's executable segments)")
    op, wr, rd, rs1, rs2 = ops_t[at], wr_t[at], rd_t[at], rs1_t[at], rs2_t[at]
    imm, target = imm_t[at], target_t[at]
    rd_val, next_pc = tr.rd_val.astype(np.int64), tr.next_pc.astype(np.int64)
    regs = np.array(run.start.registers, dtype=np.int64)
    reg_t = np.zeros(32, dtype=np.int64)
    words = np.array([a for a, _, _ in run.memory], dtype=np.int64)
    values = np.array([b for _, b, _ in run.memory], dtype=np.int64)
    ram_t = np.zeros(len(words), dtype=np.int64)
    e = tr.ecalls.astype(np.int64)
    moving = (e[E_NUMBER] == 63) | (e[E_NUMBER] == 64)
    out = np.zeros((OUT_ROWS, cycles), dtype=np.int64)
    io = np.zeros((IO_ROWS, max(int(e[E_RESULT][moving].clip(0).sum()), 0)), dtype=np.int64)
    in0, j0 = run.start.input_pos, run.start.journal_len
    status, i, m, in_pos, j_pos = _replay(
        op, rs1, rs2, rd, wr, imm, rd_val, tr.mem_addr.astype(np.int64), tr.mem_before.astype(np.int64),
        tr.mem_after.astype(np.int64), regs, reg_t, e[E_CYCLE], e[E_NUMBER], e[E_RESULT],
        np.frombuffer(run.input_chunk, dtype=np.uint8), in0, j0, words, values, ram_t, _STORE_WIDTH, _IS_LOAD,
        OPC["halt"], OPC["read"], OPC["write"], out, io)
    if status:
        name = C.CPU_OPS[op[i]] if op[i] >= 0 else "ecall"
        s_i = (int(out[R_A, i]) + int(imm[i])) & MASK
        raise ProofError({
            1: f"cycle {i}: ECALL number {int(regs[17])} is not exit, read or write",
            2: f"cycle {i}: the executor logged no {name} ECALL here",
            3: f"cycle {i}: {name} of {int(out[R_IORES, i])} bytes runs past the segment's input chunk",
            4: f"cycle {i}: a word is accessed but not in the segment's memory list (an executor bug)",
            5: f"cycle {i}: address {s_i:#x} differs from the executor's {int(tr.mem_addr[i]):#x}",
            6: f"cycle {i}: memory word {int(tr.mem_before[i]):#x} -> {int(tr.mem_after[i]):#x} (the executor's) "
               "differs from the replayed one",
        }[status])
    io = io[:, :m]
    a, b, old, memv, mnew, io_res = out[R_A], out[R_B], out[R_OLD], out[R_MEMV], out[R_MNEW], out[R_IORES]
    rows = np.arange(cycles)

    def is_(*names: str) -> np.ndarray:
        """Rows running one of these ops (a lookup by op index, not a search per row)."""
        table = np.zeros(len(C.CPU_OPS), dtype=bool)
        table[[OPC[n] for n in names]] = True
        return table[op]

    read, write, halt = is_("read"), is_("write"), is_("halt")
    ioc = out[R_IN] - in0 + out[R_J] - j0
    t_ram = rows + 1 + ioc
    # --- the SUM and DIFF units (padding rows: zero operands, so their columns are computed alike)
    n = _height(cycles)  # a power-of-two segment fills its rows; otherwise padding follows
    q = np.where(is_("add"), b, imm)
    da = np.where(read, memv, a)
    q2 = np.where(is_("slti", "sltiu"), imm, np.where(read, io_res, b))
    s, d = (a + q) & MASK, (da - q2) & MASK
    lt = (_signed(da) < _signed(q2)).astype(np.int64)
    ltu = (da < q2).astype(np.int64)
    # --- results and next pc per op
    res = np.zeros(cycles, dtype=np.int64)
    npc = pc + 4
    for names, value in ((("add", "addi"), s), (("sub",), d), (("slt", "slti"), lt), (("sltu", "sltiu"), ltu),
                         (("read", "write"), io_res), (("halt",), old), (("jal", "jalr"), pc + 4)):
        sel = is_(*names)
        res[sel] = value[sel]
    q_logic = np.where(is_("and", "or", "xor"), b, imm)
    for names, value in ((("and", "andi"), a & q_logic), (("or", "ori"), a | q_logic), (("xor", "xori"), a ^ q_logic)):
        sel = is_(*names)
        res[sel] = value[sel]
    shift_rows = np.flatnonzero(is_("sll", "srl", "sra", "slli", "srli", "srai"))
    shift_kind = np.select([is_("sll", "slli"), is_("srl", "srli")], [0, 1], 2)[shift_rows]
    amount = np.where(is_("sll", "srl", "sra"), b & 0xFF, imm)[shift_rows]
    shift, res[shift_rows] = _shift_chip(shift_kind, a[shift_rows], amount)
    mul_rows = np.flatnonzero(is_(*U.MUL_OPS))
    mul, res[mul_rows] = _mul_chip(op[mul_rows] - OPC["mul"], a[mul_rows], b[mul_rows])
    div_rows = np.flatnonzero(is_(*V.DIV_OPS))
    div, res[div_rows] = _div_chip(op[div_rows] - OPC["div"], a[div_rows], b[div_rows])
    took = ((is_("beq") & (a == b)) | (is_("bne") & (a != b)) | (is_("blt") & (lt == 1)) | (is_("bge") & (lt == 0))
            | (is_("bltu") & (a < b)) | (is_("bgeu") & (a >= b)))
    npc = np.where(took | is_("jal"), target, npc)
    npc = np.where(is_("jalr"), s & ~1, npc)
    npc = np.where(halt, pc, npc)
    mem = is_(*C.LOADS, *C.STORES)
    off = s & 3
    for name in ("lw", "lh", "lhu", "lb", "lbu"):
        sel = is_(name)
        if name == "lw":
            res[sel] = memv[sel]
            continue
        width = 16 if name in ("lh", "lhu") else 8
        v = (memv[sel] >> 8 * off[sel]) & ((1 << width) - 1)
        if name in ("lh", "lb"):
            v = np.where(v >> (width - 1), v - (1 << width), v) & MASK
        res[sel] = v
    wrong = npc != next_pc
    if wrong.any():
        i = int(np.argmax(wrong))
        raise ProofError(f"cycle {i}: next pc {int(npc[i]):#x} differs from the executor's {int(next_pc[i]):#x}")
    wrong = (wr == 1) & ~halt & (res != rd_val)
    if wrong.any():
        i = int(np.argmax(wrong))
        raise ProofError(f"cycle {i}: result {int(res[i]):#x} differs from the executor's {int(rd_val[i]):#x}")
    end = (int(next_pc[-1]), tuple(int(v) for v in regs), in_pos, j_pos)
    if end != (run.end.pc, tuple(run.end.registers), run.end.input_pos, run.end.journal_len):
        raise ProofError("the segment's end state differs from the executor's")

    # --- the CPU chip, column by column
    cpu = np.zeros((C.WIDTH, n), dtype=np.uint32)
    real = slice(0, cycles)
    cpu[C.REAL, real] = 1
    cpu[C.CLK] = np.arange(n)
    for col, v in ((C.PC, pc), (C.WR, wr), (C.RD, rd), (C.RS1, rs1), (C.RS2, rs2), (C.TARGET, target),
                   (C.NPC, npc), (C.IN_POS, out[R_IN]), (C.J_POS, out[R_J]), (C.IOC, ioc)):
        cpu[col, real] = v
    cpu[C.NPC, cycles:] = 4
    cpu[[C.IN_POS, C.J_POS, C.IOC], cycles:] = np.array([[in_pos], [j_pos], [in_pos - in0 + j_pos - j0]])
    cpu[C.LAST, cycles - 1] = 1
    flag_cols = np.array([C.FLAG[o] for o in C.CPU_OPS])
    cpu[flag_cols[op], rows] = 1
    for cols, v in ((C.IMM, imm), (C.A, a), (C.B, b), (C.OLD, old), (C.RES, res), (C.MEMV, memv), (C.MNEW, mnew)):
        _put(cpu, cols, v, real)
    pad = np.zeros(n - cycles, dtype=np.int64)
    a_n, q_n, da_n, q2_n = (np.concatenate([v, pad]) for v in (a, q, da, q2))
    s_n, d_n = (a_n + q_n) & MASK, (da_n - q2_n) & MASK
    _put(cpu, C.SUM, s_n)
    _put(cpu, C.DIFF, d_n)
    for k in range(4):
        low = (1 << 8 * (k + 1)) - 1
        cpu[C.CARRY[k]] = ((a_n & low) + (q_n & low)) >> 8 * (k + 1)
        cpu[C.BORROW[k]] = (da_n & low) < (q2_n & low)
    cpu[C.SIGN_A], cpu[C.SIGN_Q] = da_n >> 31, q2_n >> 31
    cpu[C.LT] = _signed(da_n) < _signed(q2_n)
    dsum = _byte_sum(d_n)
    cpu[C.EQ], cpu[C.DIFF_INV] = dsum == 0, _INV[dsum]
    # loads and stores: the offset, the addressed byte/half, the sign of a signed load, the RAM timestamp
    mr = np.flatnonzero(mem)
    ob = [(memv[mr] >> 8 * k) & 0xFF for k in range(4)]
    om = off[mr]
    offset_cols = np.array(C.OFFSET)
    cpu[offset_cols[om], mr] = 1
    cpu[C.RO, mr] = np.isin(s[mr] & ~3, _code_array(program))
    cpu[C.LOW, mr] = (s[mr] & 0xFF) >> 2
    jr = np.flatnonzero(is_("jalr"))
    cpu[C.LOW, jr] = (s[jr] & 0xFF) >> 1
    obs = np.stack(ob)
    cpu[C.SEL_BYTE, mr] = obs[om, np.arange(len(mr))]
    half = (om == 0) | (om == 2)
    hr = mr[half]
    cpu[C.SEL_HALF[0], hr] = obs[om[half], np.flatnonzero(half)]
    cpu[C.SEL_HALF[1], hr] = obs[om[half] + 1, np.flatnonzero(half)]
    top = np.where(op[mr] == OPC["lb"], cpu[C.SEL_BYTE, mr], np.where(op[mr] == OPC["lh"], cpu[C.SEL_HALF[1], mr], 0))
    cpu[C.LOAD_TOP, mr], cpu[C.LOAD_SIGN, mr] = top, top >> 7
    # timestamps: registers at 4·clk + slot + 1, slot 2 the RAM clock (loads/stores) or a2's read (read/write)
    for slot in (0, 1, 3):
        _gaps(cpu, slot, rows, 4 * rows + slot + 1, out[R_TP + slot])
    _gaps(cpu, 2, mr, t_ram[mr], out[R_TP + 2, mr])
    er = np.flatnonzero(read | write)
    _gaps(cpu, 2, er, 4 * er + 3, out[R_TP + 2, er])

    registers = np.zeros((M._R.width, 32), dtype=np.uint32)
    registers[M.RIDX] = np.arange(32)
    _put(registers, M.RFINAL, regs)
    registers[M.RFINAL_T] = reg_t

    memory = np.zeros((M._M.width, _height(len(run.memory))), dtype=np.uint32)
    after = np.array([w for _, _, w in run.memory], dtype=np.int64)
    wrong = values != after
    if wrong.any():
        j = int(np.argmax(wrong))
        raise ProofError(f"word {int(words[j]):#x} ends at {int(values[j]):#x}, the executor says {int(after[j]):#x}")
    w = slice(0, len(words))
    memory[M.MREAL, w], memory[M.MRO, w] = 1, np.isin(words, _code_array(program))
    memory[M.MADDR, w], memory[M.MFINAL_T, w] = words, ram_t
    _put(memory, M.MFINAL, after, w)

    iot = np.zeros((IO.WIDTH, _height(m)), dtype=np.uint32)
    r = slice(0, m)
    for col, k in ((IO.WRITE, I_WRITE), (IO.CLK, I_CLK), (IO.ADDR, I_ADDR), (IO.POS, I_POS), (IO.T, I_T),
                   (IO.BYTE, I_BYTE), (IO.WADDR, I_WADDR), (IO.T_PREV, I_TPREV)):
        iot[col, r] = io[k]
    iot[IO.REAL, r] = 1
    iot[IO.RO, r] = np.isin(io[I_WADDR], _code_array(program))
    iot[np.array(IO.OFF)[io[I_OFF]], np.arange(m)] = 1
    _put(iot, IO.OLD, io[I_OLD], r)
    _put(iot, IO.NEW, io[I_NEW], r)
    _put(iot, IO.GAP[:3], io[I_T] - io[I_TPREV] - 1, r)

    prog = np.zeros((T._P.width, _height(len(pcs_t))), dtype=np.uint32)
    prog[T.PREAL, :len(pcs_t)] = 1
    prog[T.PMULT, :len(pcs_t)] = np.bincount(at, minlength=len(pcs_t))
    prog[list(T.PFIELDS), :len(pcs_t)] = fields_t.T

    from zkray.zkvm.rv32im_air.segment import SEGMENT_CHIPS  # the chip order lives with the statement
    from zkray.zkvm.rv32im_air.witness import byte_table

    traces = [np.zeros((T._B.width, 1 << T.LOG_BYTE_ROWS), dtype=np.uint32)]
    traces += [_canonical(t) for t in (prog, cpu, registers, memory, shift, mul, div, iot)]
    traces[0] = byte_table(SEGMENT_CHIPS, traces)
    return traces


def _canonical(t: np.ndarray) -> np.ndarray:
    """The prover's form: contiguous column-major uint32 (built so: every entry is in [0, p) by construction)."""
    return np.ascontiguousarray(t, dtype=np.uint32)


def _shift_chip(kind: np.ndarray, a: np.ndarray, amount: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The shift chip's rows (kind 0 SLL, 1 SRL, 2 SRA; as shift.fill_row, one per shift) and the results."""
    m = len(kind)
    t = np.zeros((S.WIDTH, _height(m)), dtype=np.uint32)
    t[S.POW], t[S.POW_RIGHT] = 1, 256  # padding (overwritten on real rows)
    sh = amount & 31
    bs, k = sh & 7, sh >> 3
    sign = a >> 31
    left = kind == 0
    pw, pr = 1 << bs, 1 << (8 - bs)
    mult = np.where(left, pw, pr)
    ab = [(a >> 8 * i) & 0xFF for i in range(4)]
    lo = [(x * mult) & 0xFF for x in ab]
    hi = [(x * mult) >> 8 for x in ab]
    fill_byte = ((kind == 2) & (sign == 1)).astype(np.int64)
    fill = fill_byte * (256 - pr)
    c = np.stack([np.where(left, lo[i] + (hi[i - 1] if i else 0), hi[i] + (lo[i + 1] if i < 3 else fill))
                  for i in range(4)]) if m else np.zeros((4, 0), dtype=np.int64)
    cols = np.arange(m)
    res = []
    for j in range(4):
        src = np.where(left, j - k, j + k)
        inside = (src >= 0) & (src < 4)
        picked = c[np.clip(src, 0, 3), cols] if m else np.zeros(0, dtype=np.int64)
        res.append(np.where(inside, picked, np.where(left, 0, 255 * fill_byte)))
    r = slice(0, m)
    t[S.REAL, r] = 1
    t[np.array([S.FLAG[o] for o in S.SHIFT_OPS])[kind], cols] = 1
    for col, v in ((S.S, amount), (S.TOP, amount >> 5), (S.POW, pw), (S.POW_RIGHT, pr), (S.SIGN, sign),
                   (S.FILL_BYTE, fill_byte), (S.FILL, fill)):
        t[col, r] = v
    t[np.array(S.BYTE_SHIFT)[k], cols] = 1
    for i in range(3):
        t[S.BITS[i], r] = (bs >> i) & 1
    for i in range(4):
        t[S.A[i], r], t[S.LO[i], r], t[S.HI[i], r], t[S.C[i], r], t[S.RES[i], r] = ab[i], lo[i], hi[i], c[i], res[i]
    return t, sum((res[j] << 8 * j for j in range(4)), np.zeros(m, dtype=np.int64))


def _mul_chip(kind: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The multiply chip's rows (kind: index in mul.MUL_OPS; as mul.fill_row) and the results."""
    m = len(kind)
    t = np.zeros((U.WIDTH, _height(m)), dtype=np.uint32)
    ea = np.where((kind == 1) | (kind == 2), a >> 31, 0)
    eb = np.where(kind == 1, b >> 31, 0)
    ax = [(a >> 8 * i) & 0xFF for i in range(4)] + [255 * ea] * 4
    bx = [(b >> 8 * i) & 0xFF for i in range(4)] + [255 * eb] * 4
    r = slice(0, m)
    carry = np.zeros(m, dtype=np.int64)
    prod = []
    for j in range(8):
        total = sum((ax[i] * bx[j - i] for i in range(j + 1)), carry)
        prod.append(total & 0xFF)
        carry = total >> 8
        t[U.CARRY_LO[j], r], t[U.CARRY_HI[j], r], t[U.PROD[j], r] = carry & 0xFF, carry >> 8, prod[j]
    t[U.REAL, r] = 1
    t[np.array([U.FLAG[o] for o in U.MUL_OPS])[kind], np.arange(m)] = 1
    t[U.MSB_A, r], t[U.MSB_B, r], t[U.EXT_A, r], t[U.EXT_B, r] = a >> 31, b >> 31, ea, eb
    for i in range(4):
        t[U.A[i], r], t[U.B[i], r] = ax[i], bx[i]
    low = sum(prod[i] << 8 * i for i in range(4)) if m else np.zeros(0, dtype=np.int64)
    high = sum(prod[4 + i] << 8 * i for i in range(4)) if m else np.zeros(0, dtype=np.int64)
    return t, np.where(kind == 0, low, high)


def _div_chip(kind: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The divide chip's rows (kind: index in div.DIV_OPS; as div.fill_row, padding rows being 0/0 under no
    op) and the results."""
    m = len(kind)
    h = _height(m)
    real = np.arange(h) < m
    kind = np.concatenate([kind, np.full(h - m, 1)])  # padding divides like DIVU, without its flag
    a, b = (np.concatenate([v, np.zeros(h - m, dtype=np.int64)]) for v in (a, b))
    sgn = real & ((kind == 0) | (kind == 2))
    sa, sb = _signed(a), _signed(b)
    overflow_case = (sa == -(1 << 31)) & (sb == -1)
    safe_sb = np.where(sb == 0, 1, sb)
    qs = np.abs(sa) // np.abs(safe_sb)
    qs = np.where((sa < 0) != (safe_sb < 0), -qs, qs)
    q_signed = np.where(sb == 0, MASK, np.where(overflow_case, a, qs & MASK))
    r_signed = np.where(sb == 0, a, np.where(overflow_case, 0, (sa - qs * safe_sb) & MASK))
    safe_b = np.where(b == 0, 1, b)
    q_unsigned = np.where(b == 0, MASK, a // safe_b)
    r_unsigned = np.where(b == 0, a, a % safe_b)
    q, rem = np.where(sgn, q_signed, q_unsigned), np.where(sgn, r_signed, r_unsigned)
    t = np.zeros((V.WIDTH, h), dtype=np.uint32)
    t[V.REAL] = real
    t[np.array([V.FLAG[o] for o in V.DIV_OPS])[kind[:m]], np.arange(m)] = 1
    ext = {}
    for x, val, cols in (("a", a, V.A), ("b", b, V.B), ("q", q, V.Q), ("r", rem, V.R)):
        _put(t, cols, val)
        t[V.MSB[x]] = val >> 31
        t[V.EXT[x]] = ext[x] = sgn * (val >> 31)
    bsum = _byte_sum(b)
    t[V.B_ZERO], t[V.B_INV] = bsum == 0, _INV[bsum]
    cand = (1 - (a >> 31)) + ((a >> 24) & 0x7F) + (a & 0xFF) + ((a >> 8) & 0xFF) + ((a >> 16) & 0xFF) + 1020 - bsum
    overflow = sgn & (cand == 0)
    t[V.OVF], t[V.OVF_INV], t[V.OVERFLOW] = cand == 0, _INV[cand], overflow
    rsum = _byte_sum(rem)
    t[V.R_ZERO], t[V.R_INV] = rsum == 0, _INV[rsum]
    words = {x: [(v >> 8 * k) & 0xFF for k in range(4)] + [0xFF * ext[x]] * 4
             for x, v in (("a", a), ("b", b), ("q", q), ("r", rem))}
    carry = np.zeros(h, dtype=np.int64)
    for j in range(8):
        total = sum((words["q"][i] * words["b"][j - i] for i in range(j + 1)), words["r"][j] + carry)
        if ((total & 0xFF) != words["a"][j])[~overflow].any():
            raise ProofError("a = q·b + r fails in the divide chip (a zkray bug)")
        carry = total >> 8
        t[V.CARRY_LO[j]], t[V.CARRY_HI[j]] = np.where(overflow, 0, carry & 0xFF), np.where(overflow, 0, carry >> 8)
    absolute = {}
    for x, val, cols, carries in (("b", b, V.ABS_B, V.ABS_B_CARRY), ("r", rem, V.ABS_R, V.ABS_R_CARRY)):
        neg = ext[x] == 1
        absval = absolute[x] = np.where(neg, (-val) & MASK, val)
        _put(t, cols, absval)
        c = np.zeros(h, dtype=np.int64)
        for k in range(4):
            c = (((val >> 8 * k) & 0xFF) + ((absval >> 8 * k) & 0xFF) + c) >> 8
            t[carries[k]] = np.where(neg, c, 0)
    borrow = np.ones(h, dtype=np.int64)
    for k in range(4):
        d = ((absolute["b"] >> 8 * k) & 0xFF) - ((absolute["r"] >> 8 * k) & 0xFF) - borrow
        borrow = (d < 0).astype(np.int64)
        t[V.GAP[k]], t[V.GAP_BORROW[k]] = d & 0xFF, borrow
    result = np.where((kind == 0) | (kind == 1), q, rem)[:m]
    return t, result
