"""The state digest: one hash naming the whole machine state between two cycles, so segments chain.

    state_digest = SHA-256( "zkray.rv32im.state.v1" ‖ 0x00
                            ‖ u32le(pc) ‖ 32 × u32le(register) ‖ memory root (32)
                            ‖ u64le(input_pos) ‖ u64le(journal_len) )

pc, registers and memory are everything the next instruction depends on; input_pos and journal_len say
where the next read and write ECALLs continue. The verifier computes every digest itself, from the
claims' boundaries and the Merkle roots it recomputes (memory.py); no digest is taken from the prover.
The input's total length is not in the digest: it is no machine state but a constant of the run, which
every segment claim states and the chain check (verify.py) requires to be the same in all of them.
"""

from __future__ import annotations

import hashlib
import struct

from zkray.zkvm.elf import Program
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.rv32im.segment import Boundary

STATE_DOMAIN = b"zkray.rv32im.state.v1\x00"


def check_boundary(b: Boundary, what: str) -> None:
    """VerificationError unless `b` is a machine state the encoding (and the RV32IM machine) can hold."""
    if len(b.registers) != 32:
        raise VerificationError(f"{what}: {len(b.registers)} registers, RV32IM has 32")
    if b.registers[0] != 0:
        raise VerificationError(f"{what}: x0 holds {b.registers[0]:#x}, it is always 0")
    if any(not 0 <= r < 1 << 32 for r in (b.pc, *b.registers)):
        raise VerificationError(f"{what}: pc or a register is not an unsigned 32-bit value")
    if not (0 <= b.input_pos < 1 << 64 and 0 <= b.journal_len < 1 << 64):
        raise VerificationError(f"{what}: input position or journal length out of range")


def state_digest(boundary: Boundary, memory_root: bytes) -> bytes:
    """The digest above; `boundary` must pass `check_boundary` (the decoder guarantees it for seals)."""
    if len(memory_root) != 32:
        raise ValueError("memory root must be 32 bytes")
    h = hashlib.sha256(STATE_DOMAIN)
    h.update(struct.pack("<33I", boundary.pc, *boundary.registers))
    h.update(memory_root)
    h.update(struct.pack("<QQ", boundary.input_pos, boundary.journal_len))
    return h.digest()


def initial_boundary(program: Program) -> Boundary:
    """Where every run starts: the entry point, registers 0, nothing read or written."""
    return Boundary(pc=program.entry, registers=(0,) * 32, input_pos=0, journal_len=0)
