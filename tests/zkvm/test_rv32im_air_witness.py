"""The fast witness generator (witness_fast.py) against the naive reference (`witness.generate_reference`):
identical traces, chip by chip, for generated guests covering every instruction class (whole runs and
segments cut inside the body) and bundled guests with input and journal ECALLs; and the same refusals."""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pytest
from test_rv32im_air_programs import CLASSES, build, loop

from zkray.zkvm.errors import ProofError
from zkray.zkvm.rv32im import load_elf
from zkray.zkvm.rv32im.isa import mnemonic
from zkray.zkvm.rv32im.segment import execute_segment, plan_segments
from zkray.zkvm.rv32im.trace import RD_VAL
from zkray.zkvm.rv32im_air.segment import SEGMENT_CHIPS
from zkray.zkvm.rv32im_air.witness import generate, generate_reference


def _same(elf: bytes, data: bytes, segment_cycles: int) -> set[str]:
    """Every segment's traces from both generators are equal; returns the mnemonics executed."""
    program = load_elf(elf)
    names: set[str] = set()
    for i in range(plan_segments(program, data, segment_cycles=segment_cycles).segments):
        run = execute_segment(program, data, i, segment_cycles=segment_cycles)
        fast, ref = generate(program, run), generate_reference(program, run)
        assert len(fast) == len(ref) == len(SEGMENT_CHIPS)
        order = [*range(1, len(SEGMENT_CHIPS)), 0]  # the byte table (chip 0) counts the others' lookups: last
        for chip, f, r in ((SEGMENT_CHIPS[k], fast[k], ref[k]) for k in order):
            assert f.dtype == r.dtype == np.uint32 and f.shape == r.shape, chip.name
            if not np.array_equal(f, r):
                col, row = (int(x[0]) for x in np.nonzero(f != r))
                pytest.fail(f"segment {i}, {chip.name}: column {col} row {row}: fast {f[col, row]}, "
                            f"reference {r[col, row]}")
        names |= {mnemonic(int(w)) for w in run.trace.insn}
    return names


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_generated_guests_give_identical_traces(seed: int) -> None:
    names = _same(build(seed, length=120), b"", 1 << 6)  # segments cut inside the body
    if seed == 0:
        assert all(names & set(members) for members in CLASSES.values())


@pytest.mark.parametrize("cls", list(CLASSES))
def test_each_instruction_class_alone_gives_identical_traces(cls: str) -> None:
    names = _same(build(100 + len(cls), length=80, classes=[cls]), b"", 1 << 8)
    assert names & set(CLASSES[cls])


@pytest.mark.parametrize(("name", "data"), [
    ("sha256", b"zkray witness " * 5),
    ("sort", struct.pack("<6I", 5, 9, 0xFFFF_FFFF, 0, 3, 3)),
    ("rv32im_all", struct.pack("<2I", 0x8000_0000, 0xFFFF_FFFF)),
    ("fib_input_initial", struct.pack("<3I", 12, 0xFFFF_FFF0, 0x8000_0000)),
])
def test_bundled_guests_with_io_give_identical_traces(name: str, data: bytes) -> None:
    _same(open(f"guest/{name}.elf", "rb").read(), data, 1 << 11)


def test_the_benchmark_loop_gives_identical_traces() -> None:
    _same(loop(300), b"", 1 << 10)


def test_both_refuse_a_result_the_executor_did_not_compute() -> None:
    program = load_elf(build(0, length=40))
    run = execute_segment(program, b"", 0, segment_cycles=1 << 8)
    cols = run.trace.columns.copy()
    row = int(np.flatnonzero(cols[RD_VAL] != 0)[5])
    cols[RD_VAL, row] ^= 4
    bad = dataclasses.replace(run, trace=dataclasses.replace(run.trace, columns=cols))
    for gen in (generate, generate_reference):
        with pytest.raises(ProofError, match=f"cycle {row}: result"):
            gen(program, bad)
