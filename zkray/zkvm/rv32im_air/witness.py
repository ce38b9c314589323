"""Trace generation: the five chips' main traces from an executor `Session` (prover side only).

The CPU rows are filled by replaying the executor's trace through the decoded program: register and
memory values and timestamps are tracked here, and each row is cross-checked against what the executor
recorded (rd value, memory address, next pc), so a disagreement between decoder, AIR and executor is a
`ProofError` naming the cycle, not a mysterious constraint failure. (A Python loop per cycle: fine for
the tests' small programs; vectorising it is listed as unfinished in docs/rv32im-air.md.)
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
from zkray.zkvm.rv32im.session import Session
from zkray.zkvm.rv32im_air import cpu as C
from zkray.zkvm.rv32im_air import div as V
from zkray.zkvm.rv32im_air import memory as M
from zkray.zkvm.rv32im_air import mul as U
from zkray.zkvm.rv32im_air import shift as S
from zkray.zkvm.rv32im_air import tables as T
from zkray.zkvm.rv32im_air.decode import BRANCHES, MASK, code_addresses, image_words, program_table

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


def _units(row: np.ndarray, a: int, b: int, imm: int, op: str | None) -> tuple[int, int, int]:
    """Fill SUM and DIFF (with carries, borrows, signs, lt, eq) for any row; returns (sum, diff, lt)."""
    q = b if op == "add" else imm
    q2 = imm if op in ("slti", "sltiu") else b
    s, d = (a + q) & MASK, (a - q2) & MASK
    carry = borrow = 0
    for k in range(4):
        ak, qk, q2k = (a >> 8 * k) & 0xFF, (q >> 8 * k) & 0xFF, (q2 >> 8 * k) & 0xFF
        carry = (ak + qk + carry) >> 8
        borrow = int(ak - q2k - borrow < 0)
        row[C.CARRY[k]], row[C.BORROW[k]] = carry, borrow
    row[list(C.A)], row[list(C.B)] = _bytes(a), _bytes(b)
    row[list(C.SUM)], row[list(C.DIFF)] = _bytes(s), _bytes(d)
    lt = int(_signed(a) < _signed(q2))
    row[C.SIGN_A], row[C.SIGN_Q], row[C.LT] = a >> 31, q2 >> 31, lt
    dsum = sum(_bytes(d))
    row[C.EQ] = int(dsum == 0)
    row[C.DIFF_INV] = pow(dsum, F.P - 2, F.P) if dsum else 0
    return s, d, lt


def generate(program: Program, session: Session) -> tuple[list[np.ndarray], int]:
    """The traces of `statement.CHIPS` (in that order) and the final (halting) pc."""
    tr = session.trace
    if tr is None:
        raise ProofError("the session has no trace: execute with trace=True")
    if session.journal or tr.ecalls.shape[1] != 1:
        raise ProofError("the AIR constrains only the exit ECALL so far: guests that read input or write a "
                         "journal cannot be proven yet (docs/rv32im-air.md)")
    table = {d.pc: d for d in program_table(program)}
    words, code = image_words(program), code_addresses(program)
    cycles = len(tr)
    n = _height(cycles + 1)  # at least one padding row: the last row must be padding
    cpu = np.zeros((n, C.WIDTH), dtype=np.int64)
    regs, reg_t = [0] * 32, [0] * 32
    mem: dict[int, int] = {}
    mem_t: dict[int, int] = {}
    final_pc = 0
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
        row[[C.REAL, C.CLK, C.PC, C.WR, C.RD, C.RS1, C.RS2, C.TARGET]] = [1, i, pc, d.wr, d.rd, d.rs1, d.rs2,
                                                                          d.target]
        row[list(C.IMM)] = _bytes(d.imm)
        row[C.FLAG[d.op]] = 1
        a, b = regs[d.rs1], regs[d.rs2]
        ts = [4 * i + s + 1 for s in range(C.SLOTS)]
        for slot, reg in ((0, d.rs1), (1, d.rs2)):
            row[C.T_PREV[slot]] = reg_t[reg]
            row[list(C.T_GAP[slot])] = _bytes(ts[slot] - reg_t[reg] - 1)[:3]
            reg_t[reg] = ts[slot]
        s, diff, lt = _units(row, a, b, d.imm, d.op)
        res, npc = 0, pc + 4
        if d.op in ("add", "addi"):
            res = s
        elif d.op == "sub":
            res = diff
        elif d.op in ("slt", "slti"):
            res = lt
        elif d.op in ("sltu", "sltiu"):
            res = int(row[C.BORROW[3]])
        elif d.op in ("and", "or", "xor", "andi", "ori", "xori"):
            q = b if d.op in ("and", "or", "xor") else d.imm
            res = {"a": a & q, "o": a | q, "x": a ^ q}[d.op[0]]
        elif d.op in ("sll", "srl", "sra", "slli", "srli", "srai"):
            amount = b & 0xFF if d.op in ("sll", "srl", "sra") else d.imm
            shifts.append((d.op[:3], a, amount))
            res = _shift(d.op[:3], a, amount)
        elif d.op in U.MUL_OPS:
            muls.append((d.op, a, b))
            res = U.fill_row(np.zeros(U.WIDTH, dtype=np.int64), d.op, a, b)
        elif d.op in V.DIV_OPS:
            divs.append((d.op, a, b))
            res = V.fill_row(np.zeros(V.WIDTH, dtype=np.int64), d.op, a, b)
        elif d.op in ("jal", "jalr"):
            res = pc + 4
            npc = d.target if d.op == "jal" else s & ~1
            row[C.LOW] = (s & 0xFF) >> 1 if d.op == "jalr" else 0
        elif d.op in BRANCHES:
            took = {"beq": a == b, "bne": a != b, "blt": bool(lt), "bge": not lt, "bltu": a < b, "bgeu": a >= b}[d.op]
            npc = d.target if took else npc
        elif d.op in C.LOADS or d.op in C.STORES:
            if s != int(tr.mem_addr[i]):
                raise ProofError(f"cycle {i}: address {s:#x} differs from the executor's {int(tr.mem_addr[i]):#x}")
            waddr, off = s & ~3, s & 3
            old = mem.get(waddr, words.get(waddr, 0))
            new = _store(d.op, old, b, off)
            if new != int(tr.mem_after[i]) or old != int(tr.mem_before[i]):
                raise ProofError(f"cycle {i}: memory word {old:#x} -> {new:#x} differs from the executor's")
            row[list(C.MEMV)], row[list(C.MNEW)] = _bytes(old), _bytes(new)
            row[C.OFFSET[off]] = 1
            row[C.RO] = int(waddr in code and words.get(waddr, 0) != 0)
            row[C.LOW] = (s & 0xFF) >> 2
            row[C.T_PREV[2]] = mem_t.get(waddr, 0)
            row[list(C.T_GAP[2])] = _bytes(ts[2] - mem_t.get(waddr, 0) - 1)[:3]
            mem_t[waddr], mem[waddr] = ts[2], new
            ob = _bytes(old)
            row[C.SEL_BYTE] = ob[off]
            if off in (0, 2):
                row[list(C.SEL_HALF)] = ob[off:off + 2]
            res = _load(d.op, old, off)
            top = {"lb": ob[off], "lh": ob[off + 1] if off in (0, 2) else 0}.get(d.op, 0)
            row[C.LOAD_TOP], row[C.LOAD_SIGN] = top, top >> 7
        elif d.op == "halt":
            final_pc = pc
        if d.op != "halt" and npc != int(tr.next_pc[i]):
            raise ProofError(f"cycle {i}: next pc {npc:#x} differs from the executor's {int(tr.next_pc[i]):#x}")
        if d.wr and res != int(tr.rd_val[i]):
            raise ProofError(f"cycle {i}: result {res:#x} differs from the executor's {int(tr.rd_val[i]):#x}")
        row[list(C.RES)] = _bytes(res)
        row[C.NPC] = npc
        row[list(C.OLD)] = _bytes(regs[d.rd])
        row[C.T_PREV[3]] = reg_t[d.rd]
        row[list(C.T_GAP[3])] = _bytes(ts[3] - reg_t[d.rd] - 1)[:3]
        reg_t[d.rd] = ts[3]
        if d.wr:
            regs[d.rd] = res
    for i in range(cycles, n):  # padding: real = 0, the units still hold for zero operands
        cpu[i, C.CLK] = i
        cpu[i, C.NPC] = 4
        _units(cpu[i], 0, 0, 0, None)

    registers = np.zeros((32, len(M._R.names)), dtype=np.int64)
    registers[:, M.RIDX] = np.arange(32)
    registers[:, list(M.RFINAL)] = [_bytes(v) for v in regs]
    registers[:, M.RFINAL_T] = reg_t

    addresses = sorted(set(mem_t) | {a for a, w in words.items() if w})
    ram = np.zeros((_height(len(addresses)), M._M.width), dtype=np.int64)
    ram[0, list(M.MADDR)] = _bytes(M.RAM_START)
    prev = M.RAM_START - 1
    for j, addr in enumerate(addresses):
        init = words.get(addr, 0)
        ram[j, [M.MREAL, M.MIMG, M.MRO, M.MFINAL_T]] = [1, int(init != 0), int(init != 0 and addr in code),
                                                         mem_t.get(addr, 0)]
        ram[j, list(M.MADDR)] = _bytes(addr)
        ram[j, list(M.MINIT)] = _bytes(init)
        ram[j, list(M.MFINAL)] = _bytes(mem.get(addr, init))
        ram[j, list(M.MGAP)] = _bytes(addr - prev - 1)
        prev = addr

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

    from zkray.zkvm.rv32im_air.statement import CHIPS  # the chip order lives with the statement

    traces = [_canonical(t.T) for t in (np.zeros((1 << T.LOG_BYTE_ROWS, T._B.width)), prog, cpu, registers, ram,
                                        shift, mul, div)]
    traces[0] = byte_table(CHIPS, traces)
    return traces, final_pc


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
            for name, sel in targets.items():
                np.add.at(counts[name], 256 * x[sel] + y[sel], m[sel])
    pairs = np.arange(1 << 16)
    x, y = pairs >> 8, pairs & 0xFF
    table = np.zeros((T._B.width, 1 << 16), dtype=np.int64)
    for i in range(8):
        table[T.XBITS[i]], table[T.YBITS[i]] = (x >> i) & 1, (y >> i) & 1
    table[T.BAND], table[T.BXOR] = x & y, x ^ y
    for name, col in T.BMULT.items():
        table[col] = counts[name]
    return _canonical(table)
