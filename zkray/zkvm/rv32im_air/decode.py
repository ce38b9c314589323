"""The trusted decoder: what each code word of the image means to the CPU chip.

The verifier runs this on the loaded ELF itself and puts one tuple per supported code word on the
"code" bus (SP1's preprocessed program table does the same), so the CPU chip never decodes bits: it
looks its row's decoded fields up by pc, and they are exactly what the verifier computed from the image.
A word outside the supported set gets no row, so a trace that executes it cannot be proven.

Decoded fields: (pc, op id, wr, rd, rs1, rs2, imm bytes ×4, target).
- op id: 1 + index into `OPS` (the CPU chip has one boolean flag per op; id = Σ (k+1)·flag_k);
- wr = 1 iff the instruction writes rd and rd ≠ 0 (so x0 is never written: its value stays 0);
- rs1/rs2: registers read (0 when unused, so the read returns x0 = 0);
- imm: the 32-bit operand immediate as little-endian bytes. LUI and AUIPC become `addi rd, x0, c` with
  c = the upper immediate, resp. pc + upper immediate (mod 2^32), which the decoder can compute itself;
- target: taken-branch / JAL destination pc + offset (mod 2^32), or 1 (odd, never a code pc) when that
  is ≥ 2^28 (outside guest memory, where the executor faults) so it cannot alias a code pc mod p.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkray.zkvm.elf import PF_X, Program
from zkray.zkvm.rv32im.image import memory_runs
from zkray.zkvm.rv32im.isa import ECALL_WORD, mnemonic

OPS = ("add", "sub", "slt", "sltu", "and", "or", "xor", "addi", "slti", "sltiu", "andi", "ori", "xori",
       "sll", "srl", "sra", "slli", "srli", "srai", "mul", "mulh", "mulhsu", "mulhu",
       "div", "divu", "rem", "remu", "beq", "bne", "blt", "bge", "bltu", "bgeu", "jal", "jalr",
       "lw", "lh", "lhu", "lb", "lbu", "sw", "sh", "sb", "fence", "ecall")
"""The decoded operation classes (LUI and AUIPC decode to addi). ECALL is one class: which service it calls
(exit, read, write) depends on a7 at run time, so the CPU chip picks it by a flag checked against a7."""
OP_ID = {name: i + 1 for i, name in enumerate(OPS)}
BRANCHES = ("beq", "bne", "blt", "bge", "bltu", "bgeu")
ADDRESS_LIMIT = 1 << 28  # guest memory ends at 0x1000_0000
BAD_TARGET = 1
MASK = 0xFFFF_FFFF


@dataclass(frozen=True)
class Decoded:
    """One code word as the CPU chip sees it (module docstring)."""

    pc: int
    op: str
    wr: int
    rd: int
    rs1: int
    rs2: int
    imm: int  # unsigned 32-bit
    target: int

    def fields(self) -> tuple[int, ...]:
        """The tuple on the "code" and "program" buses."""
        return (self.pc, OP_ID[self.op], self.wr, self.rd, self.rs1, self.rs2,
                *self.imm.to_bytes(4, "little"), self.target)


def _sext(v: int, bits: int) -> int:
    return (v - (1 << bits) if v >> (bits - 1) & 1 else v) & MASK


def _target(pc: int, offset: int) -> int:
    t = (pc + offset) & MASK
    return t if t < ADDRESS_LIMIT else BAD_TARGET


def decode(word: int, pc: int) -> Decoded | None:
    """The decoded fields, or None for a word the AIR does not support yet."""
    name = mnemonic(word)
    rd, rs1, rs2 = (word >> 7) & 31, (word >> 15) & 31, (word >> 20) & 31
    i_imm = _sext(word >> 20, 12)
    if name in ("add", "sub", "slt", "sltu", "and", "or", "xor", "sll", "srl", "sra", "mul", "mulh", "mulhsu",
                "mulhu", "div", "divu", "rem", "remu"):
        return Decoded(pc, name, int(rd != 0), rd, rs1, rs2, 0, 0)
    if name in ("addi", "slti", "sltiu", "andi", "ori", "xori", "jalr", "lw", "lh", "lhu", "lb", "lbu"):
        return Decoded(pc, name, int(rd != 0), rd, rs1, 0, i_imm, 0)
    if name in ("slli", "srli", "srai"):
        return Decoded(pc, name, int(rd != 0), rd, rs1, 0, (word >> 20) & 31, 0)  # imm = the shift amount
    if name in ("lui", "auipc"):
        c = word & 0xFFFF_F000
        return Decoded(pc, "addi", int(rd != 0), rd, 0, 0, (c + (pc if name == "auipc" else 0)) & MASK, 0)
    if name in ("sw", "sh", "sb"):
        return Decoded(pc, name, 0, 0, rs1, rs2, _sext(((word >> 25) << 5) | rd, 12), 0)
    if name in BRANCHES:
        off = (((word >> 31) & 1) << 12) | (((word >> 7) & 1) << 11) | (((word >> 25) & 0x3F) << 5) | (
            ((word >> 8) & 0xF) << 1)
        return Decoded(pc, name, 0, 0, rs1, rs2, 0, _target(pc, _sext(off, 13)))
    if name == "jal":
        off = (((word >> 31) & 1) << 20) | (((word >> 12) & 0xFF) << 12) | (((word >> 20) & 1) << 11) | (
            ((word >> 21) & 0x3FF) << 1)
        return Decoded(pc, "jal", int(rd != 0), rd, 0, 0, 0, _target(pc, _sext(off, 21)))
    if name == "fence":
        return Decoded(pc, "fence", 0, 0, 0, 0, 0, 0)  # a no-op on one hart: only pc + 4
    if word == ECALL_WORD:
        # reads a7 (the service) and a1 (the buffer); rd = a0: its old value is the fd or exit code, and
        # read/write leave their byte count there (exit writes a0 back unchanged). a2 is read in the CPU's
        # memory slot.
        return Decoded(pc, "ecall", 1, 10, 17, 11, 0, 0)
    return None


def image_words(program: Program) -> dict[int, int]:
    """Every aligned word the image loads, zero words included, by address."""
    words: dict[int, int] = {}
    for address, data in memory_runs(program):
        for i, byte in enumerate(data):
            a = address + i
            words[a & ~3] = words.get(a & ~3, 0) | (byte << (8 * (a & 3)))
    return words


def code_addresses(program: Program) -> set[int]:
    """Aligned words lying wholly inside executable segments: the program table's pcs, read-only in RAM."""
    out: set[int] = set()
    for seg in program.segments:
        if seg.flags & PF_X:
            out.update(range((seg.address + 3) & ~3, seg.end - 3, 4))
    return out


def program_table(program: Program) -> list[Decoded]:
    """The decoded supported code words, by pc."""
    words = image_words(program)
    table = []
    for pc in sorted(code_addresses(program)):
        d = decode(words[pc], pc)
        if d is not None:
            table.append(d)
    return table
