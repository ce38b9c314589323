"""Trace generation: every chip's main trace from an executor `SegmentRun` (prover side only).

The CPU rows are filled by replaying the executor's trace through the decoded program: register and
memory values and timestamps are tracked here, and each row is cross-checked against what the executor
recorded (rd value, memory address, next pc), so a disagreement between decoder, AIR and executor is a
`ProofError` naming the cycle, not a mysterious constraint failure.

`generate_reference` is that replay as a plain Python loop per cycle (~3 s for 2^13 cycles): the obviously
correct twin. `generate` is the fast one (witness_fast.py: a compiled replay of the sequential state, numpy
over whole columns for the rest), tested to give identical traces (tests/zkvm/test_rv32im_air_witness.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from zkray.zkvm import field as F
from zkray.zkvm.air import Val
from zkray.zkvm.elf import Program
from zkray.zkvm.errors import ProofError
from zkray.zkvm.multi import Chip
from zkray.zkvm.rv32im.segment import SegmentRun
from zkray.zkvm.rv32im.trace import E_CYCLE, E_NUMBER, E_RESULT
from zkray.zkvm.rv32im_air import cpu as C
from zkray.zkvm.rv32im_air import div as V
from zkray.zkvm.rv32im_air import io as IO
from zkray.zkvm.rv32im_air import memory as M
from zkray.zkvm.rv32im_air import mul as U
from zkray.zkvm.rv32im_air import shift as S
from zkray.zkvm.rv32im_air import tables as T
from zkray.zkvm.rv32im_air.decode import BRANCHES, MASK, code_addresses, program_table

SIGNED = 0x8000_0000


def _bytes(v: int) -> list[int]:
    return [(v >> (8 * k)) & 0xFF for k in range(4)]


def _load(op: str, word: int, off: int) -> int:
    """LW/LH/LHU/LB/LBU of the aligned `word` at byte offset `off`; 0 for stores."""
    if op == "lw":
        return word
    if op in ("lh", "lhu"):
        v = (word >> 8 * off) & 0xFFFF
        return (v - 0x1_0000 if op == "lh" and v & 0x8000 else v) & MASK
    if op in ("lb", "lbu"):
        v = (word >> 8 * off) & 0xFF
        return (v - 0x100 if op == "lb" and v & 0x80 else v) & MASK
    return 0


def _store(op: str, word: int, value: int, off: int) -> int:
    """The aligned word after SW/SH/SB of `value` at byte offset `off` (unchanged for loads)."""
    width = {"sw": 4, "sh": 2, "sb": 1}.get(op, 0)
    mask = ((1 << 8 * width) - 1) << 8 * off
    return (word & ~mask | (value << 8 * off) & mask) & MASK


def _shift(op: str, a: int, amount: int) -> int:
    sh = amount & 31
    if op == "sll":
        return (a << sh) & MASK
    return (_signed(a) if op == "sra" else a) >> sh & MASK


def _height(rows: int) -> int:
    return max(2, 1 << max(rows - 1, 1).bit_length())


def _signed(v: int) -> int:
    return v - (1 << 32) if v & SIGNED else v


def _units(row: np.ndarray, a: int, b: int, imm: int, op: str | None, diff: tuple[int, int] | None = None
           ) -> tuple[int, int, int]:
    """Fill SUM and DIFF (with carries, borrows, signs, lt, eq) for any row; returns (sum, diff, lt).

    `diff` overrides DIFF's operands (a read ECALL compares a2 with its count)."""
    q = b if op == "add" else imm
    da, q2 = diff if diff is not None else (a, imm if op in ("slti", "sltiu") else b)
    s, d = (a + q) & MASK, (da - q2) & MASK
    carry = borrow = 0
    for k in range(4):
        ak, qk, dak, q2k = (a >> 8 * k) & 0xFF, (q >> 8 * k) & 0xFF, (da >> 8 * k) & 0xFF, (q2 >> 8 * k) & 0xFF
        carry = (ak + qk + carry) >> 8
        borrow = int(dak - q2k - borrow < 0)
        row[C.CARRY[k]], row[C.BORROW[k]] = carry, borrow
    row[list(C.A)], row[list(C.B)] = _bytes(a), _bytes(b)
    row[list(C.SUM)], row[list(C.DIFF)] = _bytes(s), _bytes(d)
    lt = int(_signed(da) < _signed(q2))
    row[C.SIGN_A], row[C.SIGN_Q], row[C.LT] = da >> 31, q2 >> 31, lt
    dsum = sum(_bytes(d))
    row[C.EQ] = int(dsum == 0)
    row[C.DIFF_INV] = _INV[dsum]
    return s, d, lt


_INV = [0] + [pow(v, F.P - 2, F.P) for v in range(1, 4 * 255 + 1)]
"""Inverses of every possible DIFF byte sum (0 has none: the eq flag covers it)."""


def _gap(row: np.ndarray, slot: int, t: int, t_prev: int) -> None:
    row[C.T_PREV[slot]] = t_prev
    row[list(C.T_GAP[slot])] = _bytes(t - t_prev - 1)[:3]


class _Ram:
    """The prover's view of RAM during a segment: values and last-access timestamps per word."""

    def __init__(self, memory: Sequence[tuple[int, int, int]], code: set[int]) -> None:
        self.value = {a: before for a, before, _ in memory}
        self.t: dict[int, int] = {}
        self.code = code

    def access(self, waddr: int, t: int, new: int | None = None) -> tuple[int, int]:
        """(old value, t_prev) of the word, which now holds `new` (unchanged if None) as of t."""
        if waddr not in self.value:
            raise ProofError(f"word {waddr:#x} is accessed but not in the segment's memory list (an executor bug)")
        old, t_prev = self.value[waddr], self.t.get(waddr, 0)
        self.value[waddr] = old if new is None else new
        self.t[waddr] = t
        return old, t_prev


def generate(program: Program, run: SegmentRun) -> list[np.ndarray]:
    """The traces of `segment.SEGMENT_CHIPS` (in that order) for one segment of an execution (fast path)."""
    from zkray.zkvm.rv32im_air.witness_fast import generate as fast

    return fast(program, run)


def generate_reference(program: Program, run: SegmentRun) -> list[np.ndarray]:
    """The traces of `segment.SEGMENT_CHIPS` (in that order), one cycle at a time: the naive reference."""
    tr = run.trace
    table = {d.pc: d for d in program_table(program)}
    code = code_addresses(program)
    cycles = len(tr)
    if cycles != run.cycles or cycles < 1:
        raise ProofError(f"the segment's trace has {cycles} rows for {run.cycles} cycles")
    n = _height(cycles)  # a power-of-two segment fills its rows; otherwise padding follows
    cpu = np.zeros((n, C.WIDTH), dtype=np.int64)
    regs, reg_t = list(run.start.registers), [0] * 32
    ram = _Ram(run.memory, code)
    in0, j0 = run.start.input_pos, run.start.journal_len
    in_pos, j_pos = in0, j0
    ecalls = {int(c): j for j, c in enumerate(tr.ecalls[E_CYCLE])}
    io_rows: list[list[int]] = []
    shifts: list[tuple[str, int, int]] = []
    muls: list[tuple[str, int, int]] = []
    divs: list[tuple[str, int, int]] = []
    for i in range(cycles):
        row = cpu[i]
        pc, insn = int(tr.pc[i]), int(tr.insn[i])
        d = table.get(pc)
        if d is None:
            raise ProofError(f"cycle {i}: instruction {insn:#010x} at pc {pc:#x} is not in the program table (the AIR "
                             "executes only words of the ELF's executable segments)")
        io_moved = in_pos - in0 + j_pos - j0
        t_ram = i + 1 + io_moved
        row[[C.REAL, C.CLK, C.PC, C.WR, C.RD, C.RS1, C.RS2, C.TARGET]] = [1, i, pc, d.wr, d.rd, d.rs1, d.rs2,
                                                                          d.target]
        row[[C.IN_POS, C.J_POS, C.IOC, C.LAST]] = [in_pos, j_pos, io_moved, int(i == cycles - 1)]
        row[list(C.IMM)] = _bytes(d.imm)
        op = d.op
        if op == "ecall":
            number = regs[17]
            op = {v: k for k, v in C.ECALLS.items()}.get(number, "")
            if not op:
                raise ProofError(f"cycle {i}: ECALL number {number} is not exit, read or write")
        row[C.FLAG[op]] = 1
        a, b = regs[d.rs1], regs[d.rs2]
        ts = [4 * i + s + 1 for s in range(C.SLOTS)]
        for slot, reg in ((0, d.rs1), (1, d.rs2)):
            _gap(row, slot, ts[slot], reg_t[reg])
            reg_t[reg] = ts[slot]
        res, npc, diff = 0, pc + 4, None
        if op in ("read", "write"):  # a2 through the memory slot; the bytes through the io chip
            a2 = regs[C.A2]
            row[list(C.MEMV)] = row[list(C.MNEW)] = _bytes(a2)
            _gap(row, 2, ts[2], reg_t[C.A2])
            reg_t[C.A2] = ts[2]
            e = ecalls.get(i)
            if e is None or int(tr.ecalls[E_NUMBER, e]) != regs[17]:
                raise ProofError(f"cycle {i}: the executor logged no {op} ECALL here")
            res = int(tr.ecalls[E_RESULT, e])
            if op == "read":
                diff = (a2, res)
                data = run.input_chunk[in_pos - in0:in_pos - in0 + res]
                pos = in_pos
            else:
                data = bytes(((ram.value.get((b + j) & ~3, 0) >> 8 * ((b + j) & 3)) & 0xFF) for j in range(res))
                pos = j_pos
            if len(data) != res:
                raise ProofError(f"cycle {i}: {op} of {res} bytes runs past the segment's "
                                 f"{'input' if op == 'read' else 'journal'} chunk")
            for j, byte in enumerate(data):
                addr, t = b + j, t_ram + j
                waddr, off = addr & ~3, addr & 3
                if op == "read":
                    old = ram.value.get(waddr, 0)
                    new = old & ~(0xFF << 8 * off) | byte << 8 * off
                    old, t_prev = ram.access(waddr, t, new)
                else:
                    old, t_prev = ram.access(waddr, t)
                    new = old
                io_rows.append([int(op == "write"), i, addr, pos + j, t, byte, waddr, int(waddr in code), t_prev,
                                off, old, new])
            if op == "read":
                in_pos += res
            else:
                j_pos += res
        s, diff_v, lt = _units(row, a, b, d.imm, op, diff)
        if op in ("add", "addi"):
            res = s
        elif op == "sub":
            res = diff_v
        elif op in ("slt", "slti"):
            res = lt
        elif op in ("sltu", "sltiu"):
            res = int(row[C.BORROW[3]])
        elif op in ("and", "or", "xor", "andi", "ori", "xori"):
            q = b if op in ("and", "or", "xor") else d.imm
            res = {"a": a & q, "o": a | q, "x": a ^ q}[op[0]]
        elif op in ("sll", "srl", "sra", "slli", "srli", "srai"):
            amount = b & 0xFF if op in ("sll", "srl", "sra") else d.imm
            shifts.append((op[:3], a, amount))
            res = _shift(op[:3], a, amount)
        elif op in U.MUL_OPS:
            muls.append((op, a, b))
            res = U.fill_row(np.zeros(U.WIDTH, dtype=np.int64), op, a, b)
        elif op in V.DIV_OPS:
            divs.append((op, a, b))
            res = V.fill_row(np.zeros(V.WIDTH, dtype=np.int64), op, a, b)
        elif op in ("jal", "jalr"):
            res = pc + 4
            npc = d.target if op == "jal" else s & ~1
            row[C.LOW] = (s & 0xFF) >> 1 if op == "jalr" else 0
        elif op in BRANCHES:
            took = {"beq": a == b, "bne": a != b, "blt": bool(lt), "bge": not lt, "bltu": a < b, "bgeu": a >= b}[op]
            npc = d.target if took else npc
        elif op in C.LOADS or op in C.STORES:
            if s != int(tr.mem_addr[i]):
                raise ProofError(f"cycle {i}: address {s:#x} differs from the executor's {int(tr.mem_addr[i]):#x}")
            waddr, off = s & ~3, s & 3
            new = _store(op, ram.value.get(waddr, 0), b, off)
            old, t_prev = ram.access(waddr, t_ram, new)
            if new != int(tr.mem_after[i]) or old != int(tr.mem_before[i]):
                raise ProofError(f"cycle {i}: memory word {old:#x} -> {new:#x} differs from the executor's")
            row[list(C.MEMV)], row[list(C.MNEW)] = _bytes(old), _bytes(new)
            row[C.OFFSET[off]] = 1
            row[C.RO] = int(waddr in code)
            row[C.LOW] = (s & 0xFF) >> 2
            _gap(row, 2, t_ram, t_prev)
            ob = _bytes(old)
            row[C.SEL_BYTE] = ob[off]
            if off in (0, 2):
                row[list(C.SEL_HALF)] = ob[off:off + 2]
            res = _load(op, old, off)
            top = {"lb": ob[off], "lh": ob[off + 1] if off in (0, 2) else 0}.get(op, 0)
            row[C.LOAD_TOP], row[C.LOAD_SIGN] = top, top >> 7
        elif op == "halt":
            res, npc = regs[10], pc  # a0 unchanged; the machine stays at the exit
        if npc != int(tr.next_pc[i]):
            raise ProofError(f"cycle {i}: next pc {npc:#x} differs from the executor's {int(tr.next_pc[i]):#x}")
        if d.wr and op != "halt" and res != int(tr.rd_val[i]):
            raise ProofError(f"cycle {i}: result {res:#x} differs from the executor's {int(tr.rd_val[i]):#x}")
        row[list(C.RES)] = _bytes(res)
        row[C.NPC] = npc
        row[list(C.OLD)] = _bytes(regs[d.rd])
        _gap(row, 3, ts[3], reg_t[d.rd])
        reg_t[d.rd] = ts[3]
        if d.wr:
            regs[d.rd] = res
    pad = np.zeros(C.WIDTH, dtype=np.int64)  # padding: real = 0, the units still hold for zero operands
    pad[C.NPC] = 4
    pad[[C.IN_POS, C.J_POS, C.IOC]] = [in_pos, j_pos, in_pos - in0 + j_pos - j0]
    _units(pad, 0, 0, 0, None)
    cpu[cycles:] = pad
    cpu[cycles:, C.CLK] = np.arange(cycles, n)
    end = (int(tr.next_pc[cycles - 1]), tuple(regs), in_pos, j_pos)
    if end != (run.end.pc, tuple(run.end.registers), run.end.input_pos, run.end.journal_len):
        raise ProofError("the segment's end state differs from the executor's")

    registers = np.zeros((32, M._R.width), dtype=np.int64)
    registers[:, M.RIDX] = np.arange(32)
    registers[:, list(M.RFINAL)] = [_bytes(v) for v in regs]
    registers[:, M.RFINAL_T] = reg_t

    memory = np.zeros((_height(len(run.memory)), M._M.width), dtype=np.int64)
    for j, (addr, _, after) in enumerate(run.memory):
        if ram.value[addr] != after:
            raise ProofError(f"word {addr:#x} ends at {ram.value[addr]:#x}, the executor says {after:#x}")
        memory[j, [M.MREAL, M.MRO, M.MADDR, M.MFINAL_T]] = [1, int(addr in code), addr, ram.t.get(addr, 0)]
        memory[j, list(M.MFINAL)] = _bytes(after)

    io = np.zeros((_height(len(io_rows)), IO.WIDTH), dtype=np.int64)
    for j, (write, clk, addr, pos, t, byte, waddr, ro, t_prev, off, old, new) in enumerate(io_rows):
        io[j, [IO.REAL, IO.WRITE, IO.CLK, IO.ADDR, IO.POS, IO.T, IO.BYTE, IO.WADDR, IO.RO, IO.T_PREV]] = [
            1, write, clk, addr, pos, t, byte, waddr, ro, t_prev]
        io[j, IO.OFF[off]] = 1
        io[j, list(IO.OLD)], io[j, list(IO.NEW)] = _bytes(old), _bytes(new)
        io[j, list(IO.GAP)] = _bytes(t - t_prev - 1)[:3]

    shift = np.zeros((_height(len(shifts)), S.WIDTH), dtype=np.int64)
    for j, (op, a, amount) in enumerate(shifts):
        S.fill_row(shift[j], op, a, amount)
    for j in range(len(shifts), shift.shape[0]):
        S.fill_padding(shift[j])

    mul = np.zeros((_height(len(muls)), U.WIDTH), dtype=np.int64)
    for j, (op, a, b) in enumerate(muls):
        U.fill_row(mul[j], op, a, b)

    div = np.zeros((_height(len(divs)), V.WIDTH), dtype=np.int64)
    for j in range(div.shape[0]):
        V.fill_row(div[j], *(divs[j] if j < len(divs) else (None, 0, 0)))

    counts = Counter(int(pc) for pc in tr.pc)
    prog = np.zeros((_height(len(table)), T._P.width), dtype=np.int64)
    for j, d in enumerate(table.values()):
        prog[j, [T.PREAL, T.PMULT]] = [1, counts.get(d.pc, 0)]
        prog[j, list(T.PFIELDS)] = d.fields()

    from zkray.zkvm.rv32im_air.segment import SEGMENT_CHIPS  # the chip order lives with the statement

    traces = [_canonical(t.T) for t in (np.zeros((1 << T.LOG_BYTE_ROWS, T._B.width)), prog, cpu, registers, memory,
                                        shift, mul, div, io)]
    traces[0] = byte_table(SEGMENT_CHIPS, traces)
    return traces


def _canonical(t: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(t, dtype=np.int64) % F.P, dtype=np.uint32)


def byte_table(chips: Sequence[Chip], traces: Sequence[np.ndarray]) -> np.ndarray:
    """The byte table (chip 0) with the multiplicity of every range check and bitwise lookup the others send."""
    counts = {name: np.zeros(1 << 16, dtype=np.int64) for name in T.BMULT}
    for chip, trace in zip(chips[1:], traces[1:], strict=True):
        row = [Val(c, False) for c in trace]
        for it in chip.interactions:
            if it.bus not in (T.BYTES_BUS, T.BITWISE_BUS):
                continue
            vals = [np.broadcast_to(v.v, trace.shape[1:]).astype(np.int64) for v in it.tuple_at(row)]
            m = np.broadcast_to(it.multiplicity_at(row).v, trace.shape[1:]).astype(np.int64)
            live = m != 0
            if it.bus == T.BYTES_BUS:
                x, y = vals
                targets = {"range": live}
            else:
                op, x, y, _ = vals
                targets = {name: live & (op == k) for k, name in enumerate(T.BITWISE_OPS)}
            if ((x[live] > 255) | (y[live] > 255)).any():
                raise ProofError(f"{chip.name}: a byte range check fails (a value is not a byte)")
            for name, sel in targets.items():  # bincount, not np.add.at (~10× slower); weights exact below 2^53
                counts[name] += np.rint(np.bincount(256 * x[sel] + y[sel], weights=m[sel], minlength=1 << 16)
                                        ).astype(np.int64)
    pairs = np.arange(1 << 16)
    x, y = pairs >> 8, pairs & 0xFF
    table = np.zeros((T._B.width, 1 << 16), dtype=np.int64)
    for i in range(8):
        table[T.XBITS[i]], table[T.YBITS[i]] = (x >> i) & 1, (y >> i) & 1
    table[T.BAND], table[T.BXOR] = x & y, x ^ y
    for name, col in T.BMULT.items():
        table[col] = counts[name]
    return _canonical(table)
