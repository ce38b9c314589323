"""RV32IM AIR completeness and statement binding for whole runs (the one-segment case): generated guests
prove and verify; the proof is bound to its ELF image, entry point, exit code and final pc."""

from __future__ import annotations

import dataclasses

import pytest
from test_rv32im_air_programs import CLASSES, build

from zkray.zkvm.errors import ProofError, VerificationError
from zkray.zkvm.rv32im import load_elf
from zkray.zkvm.rv32im.isa import mnemonic
from zkray.zkvm.rv32im_air import prove_elf, verify_elf
from zkray.zkvm.rv32im_air.decode import OPS


@pytest.fixture(scope="module")
def proved():
    elf = build(0, length=64)  # seed 0 executes instructions of every class (asserted below)
    session, claim, proof = prove_elf(elf)
    return elf, session, claim, proof


def test_a_program_of_every_supported_class_proves_and_verifies(proved):
    elf, session, claim, proof = proved
    assert (claim.exit_code, claim.halted, claim.journal_chunk) == (session.exit_code, True, b"")
    assert claim.final_pc == int(session.trace.pc[-1])
    verify_elf(elf, claim, proof)
    names = {mnemonic(int(w)) for w in session.trace.insn}
    assert all(names & set(members) for members in CLASSES.values())


@pytest.mark.parametrize("seed", [11])
def test_more_seeded_programs_prove_and_verify(seed):
    elf = build(seed, length=40)
    _, claim, proof = prove_elf(elf)
    verify_elf(elf, claim, proof)


def test_the_proof_is_bound_to_the_claim_and_the_image(proved):
    elf, _, claim, proof = proved
    for bad in (dataclasses.replace(claim, exit_code=claim.exit_code ^ 1),
                dataclasses.replace(claim, exit_code=claim.exit_code ^ 0x100_0000),
                dataclasses.replace(claim, end=dataclasses.replace(claim.end, pc=claim.final_pc - 4)),
                dataclasses.replace(claim, exit_code=claim.exit_code + (1 << 32))):
        with pytest.raises(VerificationError):
            verify_elf(elf, bad, proof)
    other = build(8, length=64)  # another image (same layout, other code and data)
    with pytest.raises(VerificationError):
        verify_elf(other, claim, proof)
    program = load_elf(elf)
    moved = dataclasses.replace(program, entry=program.entry + 8)  # same image, another entry point
    with pytest.raises(VerificationError):
        verify_elf(moved, claim, proof)


def test_unsupported_guests_are_refused_by_the_prover():
    from zkray.zkvm.elf import PF_R, PF_W, PF_X, write_elf
    from zkray.zkvm.rv32im.isa import encode

    data = 0x2_0000  # code in a segment that is not executable: the executor runs it, the AIR has no row for it
    words = [encode("lui", rd=5, imm=data >> 12), encode("jalr", rd=0, rs1=5, imm=0)]
    tail = [encode("addi", rd=17, rs1=0, imm=93), encode("ecall")]
    elf = write_elf(0x1_0000, [(0x1_0000, b"".join(w.to_bytes(4, "little") for w in words), PF_R | PF_X),
                               (data, b"".join(w.to_bytes(4, "little") for w in tail), PF_R | PF_W)])
    with pytest.raises(ProofError, match="not in the program table"):
        prove_elf(elf)
    assert "ecall" in OPS
