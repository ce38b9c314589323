"""Completeness on the random RV32IM programs that are checked against QEMU (tests/guest/rv32im_random.py):
a seeded sample proves in segments and verifies, with the executor's journal and exit code, and a
journal byte changed after proving is rejected."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

import zkray
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.rv32im.executor import execute

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "guest"))
from rv32im_random import build

SEEDS = (11, 12, 13)  # each ELF chains two random programs covering every RV32IM opcode (~420 cycles)
SEGMENT = 1 << 8  # two segments each, so the sample also crosses segment boundaries mid-program


@pytest.mark.parametrize("seed", SEEDS)
def test_random_programs_prove_in_segments_and_verify(seed: int) -> None:
    elf, _ = build(seed, programs=2)
    session = execute(elf, b"", trace=False)
    receipt = zkray.prove(elf, b"", segment_cycles=SEGMENT)
    zkray.verify(receipt, program=elf, exit_code=session.exit_code, input=b"")
    assert receipt.journal == session.journal and len(session.journal) > 0
    assert session.cycles > SEGMENT  # really more than one segment
    forged = dataclasses.replace(receipt, journal=bytes([receipt.journal[0] ^ 1]) + receipt.journal[1:])
    with pytest.raises(VerificationError):
        zkray.verify(forged, program=elf, exit_code=session.exit_code)
