"""A generator of tiny RV32IM guests that use only what the AIR constrains, and checks of the generator.

Each program loads edge values into x1..x9 (lui + addi), points x31 at a data window of random words,
runs a body of random supported instructions (forward-only branches and jumps, `auipc`+`jalr` pairs,
word loads and stores inside the window), then exits with a0 = some register: a7 = 93, ecall.
Other test modules import `build` and the `CLASSES` it draws from.
"""

from __future__ import annotations

import random

from zkray.zkvm.elf import PF_R, PF_W, PF_X, write_elf
from zkray.zkvm.rv32im import execute
from zkray.zkvm.rv32im.isa import encode, mnemonic

CODE, DATA, WINDOW = 0x1_0000, 0x2_0000, 64
BASE, SCRATCH = 31, 30
DESTS = list(range(0, 12))  # x0 included: its writes must vanish
EDGES = [0, 1, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF, 2, 0xFFFF_FFFE, 0x8000_0001, 0xFFFF, 0x1_0000]

CLASSES = {
    "alu": ["add", "sub", "slt", "sltu", "addi", "slti", "sltiu", "lui", "auipc"],
    "logic": ["and", "or", "xor", "andi", "ori", "xori"],
    "shift": ["sll", "srl", "sra", "slli", "srli", "srai"],
    "mul": ["mul", "mulh", "mulhsu", "mulhu"],
    "div": ["div", "divu", "rem", "remu"],
    "fence": ["fence"],
    "branch": ["beq", "bne", "blt", "bge", "bltu", "bgeu"],
    "jump": ["jal", "jalr"],
    "memory": ["lw", "lh", "lhu", "lb", "lbu", "sw", "sh", "sb"],
}


def li(rd: int, value: int) -> list[int]:
    """lui + addi loading any 32-bit value."""
    value &= 0xFFFF_FFFF
    lo = value & 0xFFF
    lo = lo - 0x1000 if lo & 0x800 else lo
    hi = ((value - lo) >> 12) & 0xFFFFF
    hi = hi - 0x100000 if hi & 0x80000 else hi
    return [encode("lui", rd=rd, imm=hi), encode("addi", rd=rd, rs1=rd, imm=lo)]


def _body(rng: random.Random, length: int, classes: list[str]) -> list[int]:
    units: list[list[int]] = []
    jumps: list[tuple[int, str, int, int, int]] = []
    src = lambda: rng.randrange(12)  # noqa: E731
    dst = lambda: rng.choice(DESTS)  # noqa: E731
    while sum(map(len, units)) < length:
        cls = rng.choice(classes)
        name = rng.choice(CLASSES[cls])
        skip = rng.randint(0, 2)
        if name in ("add", "sub", "slt", "sltu", "and", "or", "xor", "sll", "srl", "sra", "mul", "mulh", "mulhsu",
                    "mulhu", "div", "divu", "rem", "remu"):
            units.append([encode(name, rd=dst(), rs1=src(), rs2=src())])
        elif name in ("addi", "slti", "sltiu", "andi", "ori", "xori"):
            units.append([encode(name, rd=dst(), rs1=src(), imm=rng.choice([0, 1, -1, 2047, -2048, 5]))])
        elif name in ("slli", "srli", "srai"):
            units.append([encode(name, rd=dst(), rs1=src(), imm=rng.choice([0, 1, 7, 8, 15, 31, rng.randrange(32)]))])
        elif name == "fence":
            units.append([encode("fence")])
        elif name in ("lui", "auipc"):
            units.append([encode(name, rd=dst(), imm=rng.randint(-(1 << 19), (1 << 19) - 1))])
        elif name in ("lw", "lh", "lhu", "lb", "lbu"):
            size = {"lw": 4, "lh": 2, "lhu": 2}.get(name, 1)
            units.append([encode(name, rd=dst(), rs1=BASE, imm=size * rng.randrange(WINDOW // size))])
        elif name in ("sw", "sh", "sb"):
            size = {"sw": 4, "sh": 2}.get(name, 1)
            units.append([encode(name, rs1=BASE, rs2=src(), imm=size * rng.randrange(WINDOW // size))])
        elif name == "jalr":
            jumps.append((len(units), name, dst(), rng.choice([0, 1]), skip))
            units.append([encode("auipc", rd=SCRATCH, imm=0), 0])
        else:
            jumps.append((len(units), name, dst() if name == "jal" else src(), src(), skip))
            units.append([0])
    units += [[encode("addi", rd=0, rs1=0, imm=0)] for _ in range(3)]
    for at, name, a, b, skip in jumps:
        offset = 4 * (1 + sum(len(u) for u in units[at + 1:at + 1 + skip]))
        if name == "jal":
            units[at][0] = encode("jal", rd=a, imm=offset)
        elif name == "jalr":
            units[at][1] = encode("jalr", rd=a, rs1=SCRATCH, imm=offset + 4 + b)  # +1: JALR drops bit 0
        else:
            units[at][0] = encode(name, rs1=a, rs2=b, imm=offset)
    return [w for u in units for w in u]


def build(seed: int, length: int = 40, classes: list[str] | None = None, exit_reg: int = 1) -> bytes:
    """An ELF: seed x1..x11, random body of the given classes, exit with a0 = x[exit_reg]."""
    rng = random.Random(seed)
    words = li(BASE, DATA)
    for r in range(1, 12):
        words += li(r, rng.choice(EDGES) if rng.random() < 0.6 else rng.getrandbits(32))
    words += _body(rng, length, classes or list(CLASSES))
    words += [encode("addi", rd=10, rs1=exit_reg, imm=0), *li(17, 93), encode("ecall")]
    code = b"".join(w.to_bytes(4, "little") for w in words)
    data = rng.randbytes(WINDOW)
    return write_elf(CODE, [(CODE, code, PF_R | PF_X), (DATA, data, PF_R | PF_W)])


def test_generated_programs_run_and_use_only_their_classes():
    for seed in range(20):
        elf = build(seed, classes=list(CLASSES))
        session = execute(elf)
        names = {mnemonic(int(w)) for w in session.trace.insn}
        allowed = {n for c in CLASSES.values() for n in c} | {"ecall", "addi", "lui"}
        assert names <= allowed, names - allowed
        assert session.journal == b""


def loop(iterations: int) -> bytes:
    """A small loop (10 instructions per iteration: ALU, logic, shift, MUL, DIVU, LW, SW, branch) for
    benchmarks: cycles grow with `iterations`, the code (and so the program table) stays tiny."""
    body = [encode("addi", rd=1, rs1=1, imm=1), encode("xor", rd=2, rs1=2, rs2=1), encode("slli", rd=3, rs1=2, imm=3),
            encode("mul", rd=4, rs1=3, rs2=1), encode("divu", rd=5, rs1=4, rs2=1), encode("sw", rs1=BASE, rs2=5, imm=8),
            encode("lw", rd=6, rs1=BASE, imm=8), encode("add", rd=7, rs1=7, rs2=6)]
    words = [*li(BASE, DATA), *li(8, iterations), *body, encode("bne", rs1=1, rs2=8, imm=-4 * len(body)),
             encode("addi", rd=10, rs1=7, imm=0), *li(17, 93), encode("ecall")]
    code = b"".join(w.to_bytes(4, "little") for w in words)
    return write_elf(CODE, [(CODE, code, PF_R | PF_X), (DATA, bytes(WINDOW), PF_R | PF_W)])


def test_the_benchmark_loop_runs():
    session = execute(loop(10))
    assert session.cycles == 4 + 10 * 9 + 4
