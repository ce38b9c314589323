"""The RV32IM interpreter loop, compiled with numba: one function, resumable, optionally tracing.

Written once for both preflight (count cycles, collect the journal) and tracing (fill the AIR's
columns): `tracing` is a run-time flag, and the branch it guards costs less than a second compiled
copy would. The loop stops, without retiring the instruction at hand, whenever a caller-owned buffer
(trace, journal, ECALL log) is full; the Python driver grows the buffer and calls again, so no buffer
needs to be sized for the worst case up front. All machine state lives in the arrays passed in; the
trace buffer holds `st[ST_TRACE_ROWS]` cycles (its row stride may be larger).

Values are held as int64 in [0, 2**32) (unsigned view of a register); `_sx` gives the signed view.
Semantics follow the RISC-V unprivileged specification (RV32I 2.1, M 2.0); zkray's choices where the
specification leaves room are in docs/executor.md: misaligned loads, stores and jump targets trap,
FENCE is a no-op, EBREAK, FENCE.I and every CSR instruction are illegal.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from zkray.zkvm.elf import MEMORY_END, MEMORY_START
from zkray.zkvm.rv32im.trace import (
    E_A0,
    E_A1,
    E_A2,
    E_CYCLE,
    E_NUMBER,
    E_RESULT,
    INSN,
    MEM_ADDR,
    MEM_AFTER,
    MEM_BEFORE,
    NEXT_PC,
    PC,
    RD,
    RD_VAL,
    RS1,
    RS1_VAL,
    RS2,
    RS2_VAL,
)

# Machine state vector (int64) shared with the driver.
STATE_SIZE = 9
(ST_PC, ST_CYCLE, ST_INPUT_POS, ST_JOURNAL_LEN, ST_EXIT_CODE, ST_NUM_ECALLS, ST_FAULT,
 ST_JOURNAL_LIMIT, ST_TRACE_ROWS) = range(STATE_SIZE)

# Why the loop returned. Below ERRORS the driver may resume; from ERRORS on, the guest has faulted
# and ST_PC / ST_CYCLE name the faulting instruction, ST_FAULT carries the detail.
STOP_CYCLES, HALTED, TRACE_FULL, JOURNAL_FULL, ECALLS_FULL = range(5)
ERRORS = 16
(ERR_ILLEGAL, ERR_EBREAK, ERR_MISALIGNED_JUMP, ERR_MISALIGNED_LOAD, ERR_MISALIGNED_STORE, ERR_FETCH_FAULT,
 ERR_LOAD_FAULT, ERR_STORE_FAULT, ERR_ECALL_NUMBER, ERR_ECALL_FD, ERR_ECALL_BUFFER,
 ERR_JOURNAL_LIMIT) = range(ERRORS, ERRORS + 12)

SYS_READ, SYS_WRITE, SYS_EXIT = 63, 64, 93  # Linux's numbers: the same ELF runs under qemu-riscv32
FD_STDIN, FD_STDOUT = 0, 1

MASK = 0xFFFF_FFFF


@njit(cache=True, inline="always")
def _sx(v: int) -> int:
    """Signed view of a 32-bit value."""
    return v - 0x1_0000_0000 if v & 0x8000_0000 else v


@njit(cache=True, inline="always")
def _in_memory(addr: int, size: int) -> bool:
    return addr >= MEMORY_START and addr + size <= MEMORY_END


@njit(cache=True, inline="always")
def _word(mem: np.ndarray, a: int) -> int:
    return (np.int64(mem[a]) | (np.int64(mem[a + 1]) << 8) | (np.int64(mem[a + 2]) << 16)
            | (np.int64(mem[a + 3]) << 24))


@njit(cache=True, inline="always")
def _div(a: int, b: int) -> int:
    """DIV: signed, rounding toward zero; x/0 = -1 and INT_MIN/-1 = INT_MIN per the M extension."""
    sa, sb = _sx(a), _sx(b)
    if sb == 0:
        return MASK
    if sa == -0x8000_0000 and sb == -1:
        return a
    q = abs(sa) // abs(sb)
    return (-q if (sa < 0) != (sb < 0) else q) & MASK


@njit(cache=True, inline="always")
def _rem(a: int, b: int) -> int:
    """REM: sign follows the dividend; x%0 = x and INT_MIN%-1 = 0 per the M extension."""
    sa, sb = _sx(a), _sx(b)
    if sb == 0:
        return a
    if sa == -0x8000_0000 and sb == -1:
        return 0
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) & MASK


@njit(cache=True, inline="always")
def _alu(f3: int, f7: int, a: int, b: int, imm: bool) -> int:
    """OP and OP-IMM (with b the immediate), and OP's M extension; -1 flags an illegal encoding."""
    if f7 == 1 and not imm:
        if f3 == 0:
            return (_sx(a) * _sx(b)) & MASK  # MUL
        if f3 == 1:
            return ((_sx(a) * _sx(b)) >> 32) & MASK  # MULH
        if f3 == 2:
            return ((_sx(a) * b) >> 32) & MASK  # MULHSU: |product| < 2**63, fits int64
        if f3 == 3:
            return np.int64((np.uint64(a) * np.uint64(b)) >> np.uint64(32))  # MULHU
        if f3 == 4:
            return _div(a, b)
        if f3 == 5:
            return a // b if b else MASK  # DIVU: x/0 = 2**32-1
        if f3 == 6:
            return _rem(a, b)
        return a % b if b else a  # REMU: x%0 = x
    if f3 == 0:
        if f7 == 0x20 and not imm:
            return (a - b) & MASK  # SUB
        if f7 != 0 and not imm:
            return -1
        return (a + b) & MASK  # ADD, ADDI
    if f3 == 1:
        if f7 != 0:
            return -1
        return (a << (b & 31)) & MASK  # SLL, SLLI
    if f7 != 0 and not imm and f3 != 5:
        return -1
    if f3 == 2:
        return 1 if _sx(a) < _sx(b) else 0  # SLT, SLTI
    if f3 == 3:
        return 1 if a < b else 0  # SLTU, SLTIU (immediate sign-extended, then compared unsigned)
    if f3 == 4:
        return a ^ b
    if f3 == 5:
        if f7 == 0:
            return a >> (b & 31)  # SRL, SRLI
        if f7 == 0x20:
            return (_sx(a) >> (b & 31)) & MASK  # SRA, SRAI
        return -1
    if f3 == 6:
        return a | b
    return a & b


@njit(cache=True, nogil=True)
def run(
    mem: np.ndarray,
    regs: np.ndarray,
    st: np.ndarray,
    inp: np.ndarray,
    journal: np.ndarray,
    trace: np.ndarray,
    ecalls: np.ndarray,
    stop_cycle: int,
    tracing: bool,
) -> int:
    """Execute from st[ST_PC] until halt, a fault, `stop_cycle`, or a full buffer; returns why."""
    pc = st[ST_PC]
    cycle = st[ST_CYCLE]
    status = STOP_CYCLES
    while cycle < stop_cycle:
        if tracing and cycle >= st[ST_TRACE_ROWS]:
            status = TRACE_FULL
            break
        if not _in_memory(pc, 4):
            status = ERR_FETCH_FAULT
            st[ST_FAULT] = pc
            break
        w = _word(mem, pc)
        op = w & 0x7F
        rd = (w >> 7) & 31
        f3 = (w >> 12) & 7
        r1 = (w >> 15) & 31
        r2 = (w >> 20) & 31
        f7 = w >> 25
        a = regs[r1]
        b = regs[r2]
        npc = pc + 4
        val = 0
        write = False
        used1 = True
        used2 = False
        maddr = 0
        mbefore = 0
        mafter = 0
        if op == 0x33:  # OP: register-register ALU and M extension
            used2 = True
            val = _alu(f3, f7, a, b, False)
            if val < 0:
                status = ERR_ILLEGAL
                break
            write = True
        elif op == 0x13:  # OP-IMM
            imm = (w >> 20) & 0xFFF
            if f3 == 1 or f3 == 5:  # shifts: shamt is 5 bits, the upper bits select SRLI/SRAI
                val = _alu(f3, f7, a, r2, True)
            else:
                val = _alu(f3, 0, a, (imm - 0x1000 if imm & 0x800 else imm) & MASK, True)
            if val < 0:
                status = ERR_ILLEGAL
                break
            write = True
        elif op == 0x03:  # LOAD
            imm = (w >> 20) & 0xFFF
            addr = (a + (imm - 0x1000 if imm & 0x800 else imm)) & MASK
            if f3 == 0 or f3 == 4:
                size = 1
            elif f3 == 1 or f3 == 5:
                size = 2
            elif f3 == 2:
                size = 4
            else:
                status = ERR_ILLEGAL
                break
            if addr & (size - 1):
                status = ERR_MISALIGNED_LOAD
                st[ST_FAULT] = addr
                break
            if not _in_memory(addr, size):
                status = ERR_LOAD_FAULT
                st[ST_FAULT] = addr
                break
            word = _word(mem, addr & ~3)
            raw = (word >> ((addr & 3) * 8)) & ((1 << (size * 8)) - 1)
            if f3 == 0 and raw & 0x80:
                raw |= 0xFFFFFF00
            elif f3 == 1 and raw & 0x8000:
                raw |= 0xFFFF0000
            val = raw
            write = True
            maddr, mbefore, mafter = addr, word, word
        elif op == 0x23:  # STORE
            used2 = True
            imm = ((w >> 25) << 5) | ((w >> 7) & 31)
            addr = (a + (imm - 0x1000 if imm & 0x800 else imm)) & MASK
            if f3 > 2:
                status = ERR_ILLEGAL
                break
            size = 1 << f3
            if addr & (size - 1):
                status = ERR_MISALIGNED_STORE
                st[ST_FAULT] = addr
                break
            if not _in_memory(addr, size):
                status = ERR_STORE_FAULT
                st[ST_FAULT] = addr
                break
            base = addr & ~3
            if tracing:
                mbefore = _word(mem, base)
            for k in range(size):
                mem[addr + k] = (b >> (8 * k)) & 0xFF
            if tracing:
                mafter = _word(mem, base)
            maddr = addr
        elif op == 0x63:  # BRANCH
            used2 = True
            if f3 == 0:
                taken = a == b
            elif f3 == 1:
                taken = a != b
            elif f3 == 4:
                taken = _sx(a) < _sx(b)
            elif f3 == 5:
                taken = _sx(a) >= _sx(b)
            elif f3 == 6:
                taken = a < b
            elif f3 == 7:
                taken = a >= b
            else:
                status = ERR_ILLEGAL
                break
            if taken:
                imm = (((w >> 31) & 1) << 12) | (((w >> 7) & 1) << 11) | (((w >> 25) & 0x3F) << 5) | (
                    ((w >> 8) & 0xF) << 1)
                target = (pc + (imm - 0x2000 if imm & 0x1000 else imm)) & MASK
                if target & 3:
                    status = ERR_MISALIGNED_JUMP
                    st[ST_FAULT] = target
                    break
                npc = target
        elif op == 0x6F:  # JAL
            used1 = False
            imm = (((w >> 31) & 1) << 20) | (((w >> 12) & 0xFF) << 12) | (((w >> 20) & 1) << 11) | (
                ((w >> 21) & 0x3FF) << 1)
            target = (pc + (imm - 0x20_0000 if imm & 0x10_0000 else imm)) & MASK
            if target & 3:
                status = ERR_MISALIGNED_JUMP
                st[ST_FAULT] = target
                break
            val = (pc + 4) & MASK
            write = True
            npc = target
        elif op == 0x67:  # JALR
            if f3 != 0:
                status = ERR_ILLEGAL
                break
            imm = (w >> 20) & 0xFFF
            target = (a + (imm - 0x1000 if imm & 0x800 else imm)) & MASK & ~1
            if target & 3:
                status = ERR_MISALIGNED_JUMP
                st[ST_FAULT] = target
                break
            val = (pc + 4) & MASK
            write = True
            npc = target
        elif op == 0x37:  # LUI
            used1 = False
            val = w & 0xFFFFF000
            write = True
        elif op == 0x17:  # AUIPC
            used1 = False
            val = (pc + (w & 0xFFFFF000)) & MASK
            write = True
        elif op == 0x0F:  # MISC-MEM: FENCE is a no-op on a single hart; FENCE.I is not RV32IM
            used1 = False
            if f3 != 0:
                status = ERR_ILLEGAL
                break
        elif op == 0x73:  # SYSTEM: only ECALL; EBREAK traps, CSR instructions are not RV32IM
            if w == 0x0010_0073:
                status = ERR_EBREAK
                break
            if w != 0x0000_0073:
                status = ERR_ILLEGAL
                break
            if tracing and st[ST_NUM_ECALLS] >= ecalls.shape[1]:
                status = ECALLS_FULL
                break
            num = regs[17]
            a0 = regs[10]
            a1 = regs[11]
            a2 = regs[12]
            r1 = 17
            r2 = 10
            a = num
            b = a0
            used2 = True
            if num == SYS_READ:
                if a0 != FD_STDIN:
                    status = ERR_ECALL_FD
                    st[ST_FAULT] = a0
                    break
                pos = st[ST_INPUT_POS]
                n = min(a2, inp.shape[0] - pos)
                if n > 0 and not _in_memory(a1, n):
                    status = ERR_ECALL_BUFFER
                    st[ST_FAULT] = a1
                    break
                mem[a1:a1 + n] = inp[pos:pos + n]
                st[ST_INPUT_POS] = pos + n
                val = n
                rd = 10
                write = True
            elif num == SYS_WRITE:
                if a0 != FD_STDOUT:
                    status = ERR_ECALL_FD
                    st[ST_FAULT] = a0
                    break
                jlen = st[ST_JOURNAL_LEN]
                if jlen + a2 > st[ST_JOURNAL_LIMIT]:
                    status = ERR_JOURNAL_LIMIT
                    st[ST_FAULT] = jlen + a2
                    break
                if a2 > 0 and not _in_memory(a1, a2):
                    status = ERR_ECALL_BUFFER
                    st[ST_FAULT] = a1
                    break
                if jlen + a2 > journal.shape[0]:
                    status = JOURNAL_FULL
                    st[ST_FAULT] = jlen + a2
                    break
                journal[jlen:jlen + a2] = mem[a1:a1 + a2]
                st[ST_JOURNAL_LEN] = jlen + a2
                val = a2
                rd = 10
                write = True
            elif num == SYS_EXIT:
                st[ST_EXIT_CODE] = a0
                status = HALTED
                npc = pc
            else:
                status = ERR_ECALL_NUMBER
                st[ST_FAULT] = num
                break
            k = st[ST_NUM_ECALLS]
            if tracing:
                ecalls[E_CYCLE, k] = cycle
                ecalls[E_NUMBER, k] = num
                ecalls[E_A0, k] = a0
                ecalls[E_A1, k] = a1
                ecalls[E_A2, k] = a2
                ecalls[E_RESULT, k] = val
            st[ST_NUM_ECALLS] = k + 1
        else:
            status = ERR_ILLEGAL
            break
        if write and rd != 0:
            regs[rd] = val
        else:
            rd = 0
            val = 0
        if tracing:
            trace[PC, cycle] = pc
            trace[INSN, cycle] = w
            trace[NEXT_PC, cycle] = npc
            trace[RS1, cycle] = r1 if used1 else 0
            trace[RS2, cycle] = r2 if used2 else 0
            trace[RD, cycle] = rd
            trace[RS1_VAL, cycle] = a if used1 else 0
            trace[RS2_VAL, cycle] = b if used2 else 0
            trace[RD_VAL, cycle] = val
            trace[MEM_ADDR, cycle] = maddr
            trace[MEM_BEFORE, cycle] = mbefore
            trace[MEM_AFTER, cycle] = mafter
        cycle += 1
        pc = npc
        if status == HALTED:
            break
    st[ST_PC] = pc
    st[ST_CYCLE] = cycle
    return status
