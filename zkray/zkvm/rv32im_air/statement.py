"""What a proof of an RV32IM execution states, and the functions that prove and verify it.

Statement: "the ELF `program`, started at its entry point with all registers 0 and memory = its image,
ran until the exit ECALL at `final_pc` with a0 = `exit_code`". The verifier builds every input itself from
the ELF: the public input (entry point), the decoded code table and the non-zero image words as public
tuples, and the halt tuple from the claim; so a proof for one image never verifies for another.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkray.zkvm.elf import Program
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.multi import MultiProof, PublicTuple, prove_multi, verify_multi
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams
from zkray.zkvm.prover import ProverStats
from zkray.zkvm.rv32im.executor import execute, load
from zkray.zkvm.rv32im.session import Session
from zkray.zkvm.rv32im_air.cpu import CPU, HALT_BUS
from zkray.zkvm.rv32im_air.decode import code_addresses, image_words, program_table
from zkray.zkvm.rv32im_air.div import DIV
from zkray.zkvm.rv32im_air.memory import IMAGE_BUS, RAM, REGISTERS
from zkray.zkvm.rv32im_air.mul import MUL
from zkray.zkvm.rv32im_air.shift import SHIFT
from zkray.zkvm.rv32im_air.tables import BYTES, CODE_BUS, PROGRAM

CHIPS = (BYTES, PROGRAM, CPU, REGISTERS, RAM, SHIFT, MUL, DIV)


@dataclass(frozen=True)
class Claim:
    """The public outcome of a run: where it halted and with which exit code (journal: not yet bound)."""

    exit_code: int
    final_pc: int


def public_inputs(program: Program) -> list[int]:
    return [program.entry]


def public_tuples(program: Program, claim: Claim) -> list[PublicTuple]:
    """Everything the verifier itself puts on the buses: code table, image words, the halt."""
    out = [PublicTuple(CODE_BUS, d.fields(), -1) for d in program_table(program)]
    code = code_addresses(program)
    out += [PublicTuple(IMAGE_BUS, (a, *w.to_bytes(4, "little"), int(a in code)), -1)
            for a, w in sorted(image_words(program).items()) if w]
    out.append(PublicTuple(HALT_BUS, (claim.final_pc, *claim.exit_code.to_bytes(4, "little")), -1))
    return out


def prove_session(program: Program, session: Session, *, params: StarkParams = DEFAULT_PARAMS, check: bool = True,
                  stats: ProverStats | None = None) -> tuple[Claim, MultiProof]:
    from zkray.zkvm.rv32im_air.witness import generate  # prover-only import

    traces, final_pc = generate(program, session)
    claim = Claim(session.exit_code, final_pc)
    proof = prove_multi(CHIPS, traces, public_inputs(program), params, public_tuples=public_tuples(program, claim),
                        check=check, stats=stats)
    return claim, proof


def prove_elf(elf: bytes | Program, input: bytes = b"", **kw: object) -> tuple[Session, Claim, MultiProof]:
    """Execute the guest and prove the run (ProofError if it uses what the AIR does not support yet)."""
    program = load(elf)
    session = execute(program, input, trace=True)
    claim, proof = prove_session(program, session, **kw)  # type: ignore[arg-type]
    return session, claim, proof


def verify_elf(elf: bytes | Program, claim: Claim, proof: MultiProof) -> None:
    """Raise VerificationError unless `proof` shows this ELF ran to `claim`."""
    program = load(elf)
    if not 0 <= claim.final_pc < 1 << 28:
        raise VerificationError(f"final pc {claim.final_pc:#x} is outside guest memory")
    if not 0 <= claim.exit_code < 1 << 32:
        raise VerificationError(f"exit code {claim.exit_code} is not an unsigned 32-bit value")
    verify_multi(CHIPS, proof, public_inputs(program), public_tuples=public_tuples(program, claim))
