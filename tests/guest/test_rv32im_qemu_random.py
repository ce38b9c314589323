"""zkray's executor against QEMU on thousands of seeded random RV32IM programs.

Reproduce a failure with the seed in its message: `ZKRAY_QEMU_SEED=<seed> pytest tests/guest`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rv32im_random as gen
from qemu_support import assert_same_steps, run_qemu

from zkray.zkvm.rv32im import execute
from zkray.zkvm.rv32im.isa import OPS, mnemonic

BASE_SEED = int(os.environ.get("ZKRAY_QEMU_SEED", "20260521"))
ELFS = 100
PROGRAMS_PER_ELF = 25  # 2,500 random programs per run
STEPPED_ELFS = 8


def _first_difference(qemu: bytes, zkray: bytes) -> str:
    for i in range(0, min(len(qemu), len(zkray)), 4):
        if qemu[i:i + 4] != zkray[i:i + 4]:
            program, offset = divmod(i, gen.OUT_BYTES)
            where = f"window byte {offset}" if offset < gen.WINDOW else f"x{(offset - gen.WINDOW) // 4}"
            return f"program {program}, {where}: QEMU {qemu[i:i + 4].hex()}, zkray {zkray[i:i + 4].hex()}"
    return f"lengths differ: QEMU {len(qemu)} bytes, zkray {len(zkray)}"


def test_random_programs_agree_with_qemu_on_every_register_and_byte(tmp_path: Path) -> None:
    seen: set[str] = set()
    special = {"div_int_min_by_minus_one": 0, "divide_by_zero": 0, "shift_by_32_or_more": 0}
    for n in range(ELFS):
        seed = BASE_SEED + n
        elf, _ = gen.build(seed, programs=PROGRAMS_PER_ELF)
        stdout, rc, _ = run_qemu(elf, b"", tmp_path / str(n))
        session = execute(elf, b"")
        assert rc >= 0, f"seed {seed}: QEMU died with signal {-rc}"
        assert stdout == session.journal, f"seed {seed}: {_first_difference(stdout, session.journal)}"
        assert rc == session.exit_code, f"seed {seed}: exit code QEMU {rc}, zkray {session.exit_code}"
        assert len(session.journal) == PROGRAMS_PER_ELF * gen.OUT_BYTES

        tr = session.trace
        assert tr is not None
        ops = {int(w): mnemonic(int(w)) for w in np.unique(tr.insn)}
        seen.update(str(name) for name in ops.values())
        kind = np.array([ops[int(w)] for w in tr.insn])
        divs = np.isin(kind, ["div", "rem"])
        special["div_int_min_by_minus_one"] += int(
            np.sum(divs & (tr.rs1_val == 0x8000_0000) & (tr.rs2_val == 0xFFFF_FFFF)))
        divides = np.isin(kind, ["div", "divu", "rem", "remu"])
        special["divide_by_zero"] += int(np.sum(divides & (tr.rs2_val == 0)))
        shifts = np.isin(kind, ["sll", "srl", "sra"])
        special["shift_by_32_or_more"] += int(np.sum(shifts & (tr.rs2_val >= 32)))
    assert seen >= set(OPS) - {"ebreak"}, f"opcodes never generated: {set(OPS) - seen - {'ebreak'}}"
    assert all(count > 0 for count in special.values()), special


def test_random_programs_agree_with_qemu_instruction_by_instruction(tmp_path: Path) -> None:
    for n in range(STEPPED_ELFS):
        seed = BASE_SEED + 10_000 + n
        elf, _ = gen.build(seed, programs=2)
        stdout, rc, log = run_qemu(elf, b"", tmp_path / str(n), log=True)
        session = execute(elf, b"")
        try:
            steps = assert_same_steps(session, log)
        except AssertionError as e:
            raise AssertionError(f"seed {seed}: {e}") from e
        assert steps == session.cycles
        assert (stdout, rc) == (session.journal, session.exit_code)


def test_generator_is_reproducible() -> None:
    assert gen.build(7, programs=3) == gen.build(7, programs=3)
    assert gen.build(7, programs=3) != gen.build(8, programs=3)
