"""The committed guests: reproducible builds, journals recomputed in Python, and QEMU agreement."""

from __future__ import annotations

import hashlib
import random
import struct
import subprocess
from fractions import Fraction
from math import trunc
from pathlib import Path

import numpy as np
import pytest
from qemu_support import GCC, assert_same_steps, require, run_qemu

from zkray.zkvm.rv32im import execute, load_elf
from zkray.zkvm.rv32im.isa import OPS, mnemonic

GUEST_DIR = Path(__file__).resolve().parents[2] / "guest"
GUESTS = ["fib", "fib_input_initial", "sha256", "sort", "rv32im_all"]
M = 0xFFFF_FFFF
EDGES = [0, 1, 2, 7, 31, 32, 33, M, M - 1, 0x8000_0000, 0x7FFF_FFFF, 0x8000_0001, 0xFFFF_FF80, 0x1234_5678]


def elf(name: str) -> bytes:
    return (GUEST_DIR / f"{name}.elf").read_bytes()


def u32s(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}I", *values)


# ---- independent models of what each guest computes --------------------------------------------

def fib_model(n: int, a: int = 1, b: int = 1) -> int:
    for _ in range(n):
        a, b = b, (a + b) & M
    return a


def _s(v: int) -> int:
    return v - (1 << 32) if v & 0x8000_0000 else v


def _sx(v: int, bits: int) -> int:
    return (v - (1 << bits) if v >> (bits - 1) & 1 else v) & M


def rv32im_all_model(x: int, y: int) -> list[int]:
    """The results rv32im_all journals, from the RISC-V specification's definitions."""
    sx, sy, sh = _s(x), _s(y), y & 31
    div = M if y == 0 else x if (sx, sy) == (-(2**31), -1) else trunc(Fraction(sx, sy)) & M
    rem = x if y == 0 else 0 if (sx, sy) == (-(2**31), -1) else (sx - sy * trunc(Fraction(sx, sy))) & M
    out = [(x + y) & M, (x - y) & M, (x << sh) & M, int(sx < sy), int(x < y), x ^ y, x >> sh, (sx >> sh) & M,
           x | y, x & y,
           (x * y) & M, ((sx * sy) >> 32) & M, ((sx * y) >> 32) & M, (x * y) >> 32,
           div, M if y == 0 else x // y, rem, x if y == 0 else x % y]
    out += [(x - 2048) & M, int(sx < -1), int(x < M), x ^ 0x555, x | 0xFFFF_FF00, x & 0x7F0, (x << 31) & M,
            x >> 7, (sx >> 13) & M]
    out += [int(x == y), int(x != y), int(sx < sy), int(sx >= sy), int(x < y), int(x >= y)]
    mem = bytearray(8)
    mem[0:4] = x.to_bytes(4, "little")
    mem[4:6] = (x & 0xFFFF).to_bytes(2, "little")
    mem[7] = y & 0xFF
    w = lambda i: int.from_bytes(mem[i:i + 4], "little")  # noqa: E731
    h = lambda i: int.from_bytes(mem[i:i + 2], "little")  # noqa: E731
    out += [w(0), w(4)]
    out += [_sx(mem[3], 8), mem[3], _sx(h(2), 16), h(2), w(4), _sx(mem[7], 8), _sx(h(6), 16)]
    out += [0xABCDE000, 8, 8, 24, 24]
    return out


# ---- build -------------------------------------------------------------------------------------

def test_guest_build_is_reproducible_and_matches_the_committed_elfs(tmp_path: Path) -> None:
    require(GCC)
    require("make")
    done = subprocess.run(["make", "-C", str(GUEST_DIR), f"O={tmp_path}", "all"], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    for name in GUESTS:
        built = (tmp_path / f"{name}.elf").read_bytes()
        assert built == elf(name), f"guest/{name}.elf differs from a fresh build: run `make -C guest`, commit"


@pytest.mark.parametrize("name", GUESTS)
def test_committed_guests_are_rv32im_executables(name: str) -> None:
    program = load_elf(elf(name))
    assert program.entry == 0x10000
    words = np.frombuffer(program.segments[0].data, dtype="<u4")
    names = {mnemonic(int(w)) for w in words}
    assert "ecall" in names


# ---- journals ----------------------------------------------------------------------------------

def test_fib_journal_for_many_inputs() -> None:
    program = load_elf(elf("fib"))
    for n in [0, 1, 2, 3, 10, 47, 48, 93, 94, 1000, *random.Random(1).sample(range(5000), 20)]:
        s = execute(program, u32s(n), trace=False)
        assert (s.exit_code, s.journal) == (0, u32s(n, fib_model(n))), n


def test_fib_input_initial_journal_for_many_inputs() -> None:
    program = load_elf(elf("fib_input_initial"))
    rng = random.Random(2)
    cases = [(0, 5, 9), (1, 5, 9), (2, M, M), (50, 0x8000_0000, 1)]
    cases += [(rng.randrange(3000), rng.getrandbits(32), rng.getrandbits(32)) for _ in range(30)]
    for n, a, b in cases:
        s = execute(program, u32s(n, a, b), trace=False)
        assert (s.exit_code, s.journal) == (0, u32s(n, a, b, fib_model(n, a, b))), (n, a, b)


def test_fib_guests_reject_short_input() -> None:
    assert execute(elf("fib"), b"\x01\x02").exit_code == 1
    assert execute(elf("fib_input_initial"), u32s(3, 4)).exit_code == 1


def test_sha256_journal_matches_hashlib() -> None:
    program = load_elf(elf("sha256"))
    rng = random.Random(3)
    lengths = [*range(0, 130), 4095, 4096, 4097, 8192 + 55, 8192 + 56, 20_000]
    for n in lengths:
        data = rng.randbytes(n)
        s = execute(program, data, trace=False)
        assert s.journal == hashlib.sha256(data).digest(), n
        assert (s.exit_code, s.input_read) == (0, n)


def test_sort_journal_for_many_lists() -> None:
    program = load_elf(elf("sort"))
    rng = random.Random(4)
    lists = [[], [5], [M, 0], EDGES, list(range(100, 0, -1)), [7] * 50]
    lists += [[rng.getrandbits(32) for _ in range(rng.randrange(300))] for _ in range(25)]
    lists += [[rng.randrange(4) for _ in range(2000)]]
    for items in lists:
        s = execute(program, u32s(*items), trace=False)
        assert (s.exit_code, s.journal) == (0, u32s(*sorted(items))), items[:5]


def test_sort_rejects_a_ragged_input() -> None:
    s = execute(elf("sort"), b"\x01\x02\x03\x04\x05")
    assert (s.exit_code, s.journal) == (1, b"")


def test_rv32im_all_journal_for_edge_and_random_operands() -> None:
    program = load_elf(elf("rv32im_all"))
    rng = random.Random(5)
    pairs = [(x, y) for x in EDGES for y in EDGES]
    pairs += [(rng.getrandbits(32), rng.getrandbits(32)) for _ in range(50)]
    for x, y in pairs:
        s = execute(program, u32s(x, y), trace=False)
        assert s.exit_code == 0
        got = list(struct.unpack(f"<{len(s.journal) // 4}I", s.journal))
        assert got == rv32im_all_model(x, y), (hex(x), hex(y))


def test_rv32im_all_executes_every_rv32im_instruction() -> None:
    s = execute(elf("rv32im_all"), u32s(3, 5))
    assert s.trace is not None
    executed = {mnemonic(int(w)) for w in np.unique(s.trace.insn)}
    assert executed == set(OPS) - {"ebreak"}  # EBREAK traps by design (docs/guest-abi.md)


def test_fib_guests_journal_like_the_builtin_air_guests() -> None:
    """An RV32IM fib job and a built-in AIR fib job with the same input commit the same journal."""
    from zkray.zkvm.guests import by_name

    for name, data in [("fib", u32s(1000)), ("fib_input_initial", u32s(77, 5, 0xFFFF_FFFF))]:
        guest = by_name(name)
        inp = guest.parse_input(data)
        assert execute(elf(name), data, trace=False).journal == guest.journal(inp, guest.output(inp))


# ---- QEMU --------------------------------------------------------------------------------------

STEPPED = [
    ("fib", u32s(25)),
    ("fib_input_initial", u32s(12, 0xFFFF_FFF0, 0x8000_0000)),
    ("sha256", b"abc"),
    ("sha256", bytes(range(120))),
    ("sort", u32s(9, 3, M, 0, 0x8000_0000, 7, 7, 1)),
    ("rv32im_all", u32s(0x8000_0000, M)),
    ("rv32im_all", u32s(0x1234_5678, 0)),
    ("sort", b"\x01\x02\x03"),  # exits with 1
]


@pytest.mark.parametrize(("name", "data"), STEPPED, ids=[f"{n}-{i}" for i, (n, _) in enumerate(STEPPED)])
def test_guest_matches_qemu_instruction_by_instruction(name: str, data: bytes, tmp_path: Path) -> None:
    guest = elf(name)
    stdout, rc, log = run_qemu(guest, data, tmp_path, log=True)
    session = execute(guest, data)
    assert assert_same_steps(session, log) == session.cycles
    assert (stdout, rc) == (session.journal, session.exit_code)


def test_guests_match_qemu_on_larger_inputs(tmp_path: Path) -> None:
    rng = random.Random(6)
    cases = [("fib", u32s(100_000)), ("sha256", rng.randbytes(50_000)),
             ("sort", u32s(*(rng.getrandbits(32) for _ in range(5000)))),
             ("fib_input_initial", u32s(77_777, 3, 4))]
    for i, (name, data) in enumerate(cases):
        stdout, rc, _ = run_qemu(elf(name), data, tmp_path / str(i))
        session = execute(elf(name), data, trace=False)
        assert (stdout, rc) == (session.journal, session.exit_code), name
