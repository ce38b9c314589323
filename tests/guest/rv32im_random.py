"""Seeded generator of random RV32IM programs that dump their registers and a memory window.

Each program: set every free register to an edge value (0, 1, -1, INT_MIN, INT_MAX, small shifts,
random), run a body of random instructions covering every RV32IM opcode (forward-only branches and
jumps, so it always terminates), then store x0..x31 after the window and write window + registers to
the journal. Several programs can be chained in one ELF (one QEMU start for many programs); each
starts from the state its predecessor left, re-seeding registers first.

Registers x30 (scratch for JALR targets and the dump base) and x31 (window base) are never random
destinations, so every load and store stays inside the window.
"""

from __future__ import annotations

import random

from zkray.zkvm.elf import PF_R, PF_W, PF_X, write_elf
from zkray.zkvm.rv32im.isa import OPS, encode

CODE = 0x0001_0000
DATA = 0x0002_0000
WINDOW = 256  # bytes of random data the body loads from and stores to
DUMP = DATA + WINDOW  # x0..x31 are stored here, right after the window
OUT_BYTES = WINDOW + 32 * 4
BASE, SCRATCH = 31, 30
DESTS = list(range(30))  # x0 included: writes to it must be discarded

INT_MIN, INT_MAX = 0x8000_0000, 0x7FFF_FFFF
EDGES = [0, 1, 0xFFFF_FFFF, INT_MIN, INT_MAX, 2, 31, 32, 33, 63, 0xFFFF_FFFE, INT_MIN + 1, 0x8000, 0xFFFF]
IMM_EDGES = [0, 1, -1, 2047, -2048, 2, -2]

R_OPS = [n for n, op in OPS.items() if op.fmt == "R"]
I_OPS = [n for n, op in OPS.items() if op.fmt == "I" and n != "jalr"]
SHIFT_OPS = ["slli", "srli", "srai"]
LOADS = {"lb": 1, "lbu": 1, "lh": 2, "lhu": 2, "lw": 4}
STORES = {"sb": 1, "sh": 2, "sw": 4}
BRANCHES = [n for n, op in OPS.items() if op.fmt == "B"]


def li(rd: int, value: int) -> list[int]:
    """`lui` + `addi` that load any 32-bit value (the assembler's `li`)."""
    value &= 0xFFFF_FFFF
    lo = value & 0xFFF
    lo = lo - 0x1000 if lo & 0x800 else lo
    hi = ((value - lo) >> 12) & 0xFFFFF
    hi = hi - 0x100000 if hi & 0x80000 else hi
    return [encode("lui", rd=rd, imm=hi), encode("addi", rd=rd, rs1=rd, imm=lo)]


def _value(rng: random.Random) -> int:
    return rng.choice(EDGES) if rng.random() < 0.6 else rng.getrandbits(32)


def _imm12(rng: random.Random) -> int:
    return rng.choice(IMM_EDGES) if rng.random() < 0.5 else rng.randint(-2048, 2047)


def body(rng: random.Random, length: int) -> list[int]:
    """About `length` random instructions; control flow only skips forward over whole units.

    A unit is one instruction, or a pair that belongs together (`auipc`+`jalr`, `lui`+`addi`), so a
    taken branch never lands between the `auipc` and the `jalr` that depends on it.
    """
    units: list[list[int]] = []
    jumps: list[tuple[int, str, int, int, int]] = []  # (unit index, name, rd/rs1, rs2, units skipped)
    reg = lambda: rng.randrange(32)  # noqa: E731 - any source register, BASE and SCRATCH included
    dst = lambda: rng.choice(DESTS)  # noqa: E731
    count = 0
    while count < length:
        kind = rng.choices(
            ["r", "i", "shift", "lui", "auipc", "load", "store", "branch", "jal", "jalr", "fence", "seed",
             "div_edge"],
            weights=[30, 10, 6, 3, 2, 10, 8, 8, 3, 3, 1, 6, 2])[0]
        skip = rng.randint(0, 3)  # units a taken branch or jump passes over
        if kind == "r":
            unit = [encode(rng.choice(R_OPS), rd=dst(), rs1=reg(), rs2=reg())]
        elif kind == "i":
            unit = [encode(rng.choice(I_OPS), rd=dst(), rs1=reg(), imm=_imm12(rng))]
        elif kind == "shift":
            shamt = rng.choice([0, 1, 31, rng.randrange(32)])
            unit = [encode(rng.choice(SHIFT_OPS), rd=dst(), rs1=reg(), imm=shamt)]
        elif kind in ("lui", "auipc"):
            unit = [encode(kind, rd=dst(), imm=rng.randint(-(1 << 19), (1 << 19) - 1))]
        elif kind == "load":
            name = rng.choice(list(LOADS))
            unit = [encode(name, rd=dst(), rs1=BASE, imm=rng.randrange(0, WINDOW, LOADS[name]))]
        elif kind == "store":
            name = rng.choice(list(STORES))
            unit = [encode(name, rs1=BASE, rs2=reg(), imm=rng.randrange(0, WINDOW, STORES[name]))]
        elif kind == "branch":
            jumps.append((len(units), rng.choice(BRANCHES), reg(), reg(), skip))
            unit = [0]
        elif kind == "jal":
            jumps.append((len(units), "jal", dst(), 0, skip))
            unit = [0]
        elif kind == "jalr":
            jumps.append((len(units), "jalr", dst(), rng.choice([0, 1]), skip))  # +1: JALR clears bit 0
            unit = [encode("auipc", rd=SCRATCH, imm=0), 0]
        elif kind == "fence":
            unit = [encode("fence")]
        elif kind == "div_edge":  # the M extension's special cases: x/0, x%0, INT_MIN/-1, INT_MIN%-1
            a, b = rng.sample(range(1, 30), 2)
            va, vb = rng.choice([(INT_MIN, 0xFFFF_FFFF), (_value(rng), 0), (INT_MIN, 0), (0, 0)])
            op = rng.choice(["div", "divu", "rem", "remu", "mulh", "mulhsu", "mulhu", "mul"])
            unit = [*li(a, va), *li(b, vb), encode(op, rd=dst(), rs1=a, rs2=b)]
        else:
            unit = li(dst(), _value(rng))
        units.append(unit)
        count += len(unit)
    units += [[encode("addi", rd=0, rs1=0, imm=0)] for _ in range(3)]  # landing pad for the last skips
    for at, name, a, b, skip in jumps:
        offset = 4 * (1 + sum(len(u) for u in units[at + 1:at + 1 + skip]))
        if name == "jal":
            units[at][0] = encode("jal", rd=a, imm=offset)
        elif name == "jalr":  # relative to the auipc one word before the jalr
            units[at][1] = encode("jalr", rd=a, rs1=SCRATCH, imm=offset + 4 + b)
        else:
            units[at][0] = encode(name, rs1=a, rs2=b, imm=offset)
    return [w for u in units for w in u]


def program(rng: random.Random, length: int) -> list[int]:
    """Seed registers, run a random body, dump x0..x31 after the window (the window is not reset)."""
    words: list[int] = li(BASE, DATA)
    for r in range(1, 30):
        words += li(r, _value(rng))
    words += body(rng, length)
    words += li(SCRATCH, DUMP)
    words += [encode("sw", rs1=SCRATCH, rs2=r, imm=4 * r) for r in range(32)]
    words += [*li(10, 1), *li(11, DATA), *li(12, OUT_BYTES), *li(17, 64), encode("ecall")]
    return words


def build(seed: int, programs: int = 1, length: int = 120) -> tuple[bytes, bytes]:
    """An ELF chaining `programs` random programs; returns (elf, initial window bytes).

    The ELF exits with the low 7 bits of the final x1, so exit codes are compared too.
    """
    rng = random.Random(seed)
    words: list[int] = []
    for _ in range(programs):
        words += program(rng, length)
    words += [encode("lw", rd=10, rs1=SCRATCH, imm=4), encode("andi", rd=10, rs1=10, imm=0x7F)]
    words += [*li(17, 93), encode("ecall")]
    code = b"".join(w.to_bytes(4, "little") for w in words)
    window = rng.randbytes(WINDOW)
    data = window + bytes(32 * 4)
    return write_elf(CODE, [(CODE, code, PF_R | PF_X), (DATA, data, PF_R | PF_W)]), window
