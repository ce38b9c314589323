"""A whole run as the one-segment case: the functions that prove and verify "this ELF, on this input, ran
from its entry point to its exit ECALL with this journal and exit code".

The claim is a `SegmentClaim` (segment.py) whose start is the image's initial state (pc = entry point,
registers 0, nothing read or written yet), which halts, and whose listed words start at the image's values
(0 outside the image): `verify_elf` checks those against the ELF itself before verifying the segment proof,
so a proof for one image or input never verifies for another.
"""

from __future__ import annotations

from zkray.zkvm.elf import Program
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.multi import MultiProof
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams
from zkray.zkvm.prover import ProverStats
from zkray.zkvm.rv32im.executor import execute, load
from zkray.zkvm.rv32im.segment import Boundary, execute_segment
from zkray.zkvm.rv32im.session import Session
from zkray.zkvm.rv32im_air.decode import image_words
from zkray.zkvm.rv32im_air.segment import SEGMENT_CHIPS, SegmentClaim, prove_segment, verify_segment

CHIPS = SEGMENT_CHIPS


def initial_boundary(program: Program) -> Boundary:
    """The machine state before the first cycle: entry point, registers 0, no input read, empty journal."""
    return Boundary(pc=program.entry, registers=(0,) * 32, input_pos=0, journal_len=0)


def prove_elf(elf: bytes | Program, input: bytes = b"", *, params: StarkParams = DEFAULT_PARAMS, check: bool = True,
              stats: ProverStats | None = None) -> tuple[Session, SegmentClaim, MultiProof]:
    """Execute the guest and prove the whole run as one segment (ProofError if the AIR cannot prove it)."""
    program = load(elf)
    session = execute(program, input, trace=True)
    cycles = 1 << max(session.cycles - 1, 0).bit_length()
    run = execute_segment(program, input, 0, segment_cycles=cycles)
    claim, proof = prove_segment(program, run, params=params, check=check, stats=stats)
    return session, claim, proof


def verify_elf(elf: bytes | Program, claim: SegmentClaim, proof: MultiProof, *,
               params: StarkParams = DEFAULT_PARAMS) -> None:
    """Raise VerificationError unless `proof` shows this ELF ran from its image to `claim`'s exit."""
    program = load(elf)
    if claim.start != initial_boundary(program):
        raise VerificationError("a whole run starts at the entry point with registers 0 and empty streams")
    if not claim.halted:
        raise VerificationError("a whole run ends at the exit ECALL (the claim does not halt)")
    words = image_words(program)
    for addr, before, _ in claim.memory:
        if before != words.get(addr, 0):
            raise VerificationError(f"memory word {addr:#x} starts at {before:#x}, the image holds "
                                    f"{words.get(addr, 0):#x}")
    verify_segment(program, claim, proof, params=params)
