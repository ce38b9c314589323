"""The RV32IM instruction table, used in both directions: `encode` builds words, `mnemonic` names them.

The compiled executor decodes with bit operations of its own (numba cannot use this table); tests check
that both agree on which words are legal, and the random-program generator encodes with this table, so
an error in one is caught by the other and by QEMU.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Op:
    """One instruction: its format and the fixed fields that select it."""

    name: str
    fmt: str  # R, I, SHIFT, LOAD, S, B, J, U, FENCE, SYS
    opcode: int
    funct3: int = 0
    funct7: int = 0


_R = [("add", 0, 0), ("sub", 0, 0x20), ("sll", 1, 0), ("slt", 2, 0), ("sltu", 3, 0), ("xor", 4, 0),
      ("srl", 5, 0), ("sra", 5, 0x20), ("or", 6, 0), ("and", 7, 0),
      ("mul", 0, 1), ("mulh", 1, 1), ("mulhsu", 2, 1), ("mulhu", 3, 1),
      ("div", 4, 1), ("divu", 5, 1), ("rem", 6, 1), ("remu", 7, 1)]
_I = [("addi", 0), ("slti", 2), ("sltiu", 3), ("xori", 4), ("ori", 6), ("andi", 7)]
_SHIFT = [("slli", 1, 0), ("srli", 5, 0), ("srai", 5, 0x20)]
_LOAD = [("lb", 0), ("lh", 1), ("lw", 2), ("lbu", 4), ("lhu", 5)]
_STORE = [("sb", 0), ("sh", 1), ("sw", 2)]
_BRANCH = [("beq", 0), ("bne", 1), ("blt", 4), ("bge", 5), ("bltu", 6), ("bgeu", 7)]

OPS: dict[str, Op] = {}
for _n, _f3, _f7 in _R:
    OPS[_n] = Op(_n, "R", 0x33, _f3, _f7)
for _n, _f3 in _I:
    OPS[_n] = Op(_n, "I", 0x13, _f3)
for _n, _f3, _f7 in _SHIFT:
    OPS[_n] = Op(_n, "SHIFT", 0x13, _f3, _f7)
for _n, _f3 in _LOAD:
    OPS[_n] = Op(_n, "LOAD", 0x03, _f3)
for _n, _f3 in _STORE:
    OPS[_n] = Op(_n, "S", 0x23, _f3)
for _n, _f3 in _BRANCH:
    OPS[_n] = Op(_n, "B", 0x63, _f3)
OPS["jal"] = Op("jal", "J", 0x6F)
OPS["jalr"] = Op("jalr", "I", 0x67, 0)
OPS["lui"] = Op("lui", "U", 0x37)
OPS["auipc"] = Op("auipc", "U", 0x17)
OPS["fence"] = Op("fence", "FENCE", 0x0F, 0)
OPS["ecall"] = Op("ecall", "SYS", 0x73)
OPS["ebreak"] = Op("ebreak", "SYS", 0x73)

ECALL_WORD = 0x0000_0073
EBREAK_WORD = 0x0010_0073
FENCE_WORD = 0x0FF0_000F  # fence iorw, iorw

_BY_FIELDS = {(op.opcode, op.funct3, op.funct7): op.name for op in OPS.values() if op.fmt in ("R", "SHIFT")}
_BY_F3 = {(op.opcode, op.funct3): op.name for op in OPS.values() if op.fmt in ("I", "LOAD", "S", "B")}


def _imm(value: int, bits: int) -> int:
    """Two's-complement field of `bits` bits; refuses values that do not fit."""
    if not -(1 << (bits - 1)) <= value < (1 << bits):
        raise ValueError(f"immediate {value} does not fit in {bits} bits")
    return value & ((1 << bits) - 1)


def encode(name: str, rd: int = 0, rs1: int = 0, rs2: int = 0, imm: int = 0) -> int:
    """The 32-bit word of one instruction; `imm` is the byte offset for branches and jumps."""
    op = OPS[name]
    for reg in (rd, rs1, rs2):
        if not 0 <= reg < 32:
            raise ValueError(f"register x{reg} does not exist")
    if op.fmt == "R":
        return (op.funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (op.funct3 << 12) | (rd << 7) | op.opcode
    if op.fmt in ("I", "LOAD"):
        return (_imm(imm, 12) << 20) | (rs1 << 15) | (op.funct3 << 12) | (rd << 7) | op.opcode
    if op.fmt == "SHIFT":
        if not 0 <= imm < 32:
            raise ValueError(f"shift amount {imm} is not in [0, 32)")
        return (op.funct7 << 25) | (imm << 20) | (rs1 << 15) | (op.funct3 << 12) | (rd << 7) | op.opcode
    if op.fmt == "S":
        v = _imm(imm, 12)
        return ((v >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (op.funct3 << 12) | ((v & 31) << 7) | op.opcode
    if op.fmt == "B":
        if imm % 2:
            raise ValueError(f"branch offset {imm} is odd")
        v = _imm(imm, 13)
        return ((((v >> 12) & 1) << 31) | (((v >> 5) & 0x3F) << 25) | (rs2 << 20) | (rs1 << 15)
                | (op.funct3 << 12) | (((v >> 1) & 0xF) << 8) | (((v >> 11) & 1) << 7) | op.opcode)
    if op.fmt == "J":
        if imm % 2:
            raise ValueError(f"jump offset {imm} is odd")
        v = _imm(imm, 21)
        return ((((v >> 20) & 1) << 31) | (((v >> 1) & 0x3FF) << 21) | (((v >> 11) & 1) << 20)
                | (((v >> 12) & 0xFF) << 12) | (rd << 7) | op.opcode)
    if op.fmt == "U":
        return (_imm(imm, 20) << 12) | (rd << 7) | op.opcode
    if op.fmt == "FENCE":
        return FENCE_WORD
    return ECALL_WORD if name == "ecall" else EBREAK_WORD


def mnemonic(word: int) -> str | None:
    """The instruction's name, or None if `word` is not an RV32IM instruction."""
    opcode, f3, f7 = word & 0x7F, (word >> 12) & 7, word >> 25
    if opcode == 0x33 or (opcode == 0x13 and f3 in (1, 5)):
        return _BY_FIELDS.get((opcode, f3, f7))
    if opcode in (0x13, 0x03, 0x23, 0x63, 0x67):
        return _BY_F3.get((opcode, f3))
    if opcode == 0x6F:
        return "jal"
    if opcode == 0x37:
        return "lui"
    if opcode == 0x17:
        return "auipc"
    if opcode == 0x0F:
        return "fence" if f3 == 0 else None
    if word == ECALL_WORD:
        return "ecall"
    if word == EBREAK_WORD:
        return "ebreak"
    return None
