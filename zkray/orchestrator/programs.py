"""Orchestrator program ids mapped onto zkray's built-in guests, and the two things done with them.

The Nexus node knows two programs: "fast-fib" (input: u32 LE n) and "fib_input_initial" (u32 LE n, a, b).
zkray proves them with its `fib` and `fib_input_initial` guests, whose input bytes are the same. A proof
on the wire is a zkray `Receipt` in its canonical encoding.
"""

from __future__ import annotations

from zkray.orchestrator.errors import Rejected, Rejection, UnknownProgram
from zkray.proving import prove
from zkray.zkvm.errors import InputError, ReceiptError, VerificationError
from zkray.zkvm.guests import BuiltinGuest, by_name
from zkray.zkvm.receipt import Receipt

PROGRAMS: dict[str, str] = {"fast-fib": "fib", "fib_input_initial": "fib_input_initial"}


def guest_for(program_id: str) -> BuiltinGuest:
    """The built-in guest that proves `program_id`."""
    try:
        return by_name(PROGRAMS[program_id])
    except KeyError:
        raise UnknownProgram(f"unknown program id {program_id!r}; known: {sorted(PROGRAMS)}") from None


def check_inputs(program_id: str, public_inputs: bytes) -> None:
    """Raise UnknownProgram or InputError unless a task with these inputs can be proven."""
    guest_for(program_id).parse_input(public_inputs)


def prove_task(program_id: str, public_inputs: bytes) -> bytes:
    """The default prover: the encoded receipt of the program run on the inputs (CPU-bound, call in a thread)."""
    return prove(guest_for(program_id).name, public_inputs).encode()


def verify_proof(program_id: str, public_inputs: bytes, proof: bytes) -> Receipt:
    """The receipt in `proof` if it proves this program on these inputs; else `Rejected(BAD_PROOF)`.

    Three things are checked: the bytes decode strictly, the STARK verifies against the program's image
    id, and the journal starts with these very inputs (a valid proof for another input is no answer).
    """
    guest = guest_for(program_id)
    try:
        receipt = Receipt.decode(proof)
        receipt.verify(guest.image_id)
        expected = guest.input_bytes(guest.parse_input(public_inputs))
    except (ReceiptError, VerificationError, InputError) as e:
        raise Rejected(Rejection.BAD_PROOF, f"the proof does not verify for {program_id}: {e}") from e
    if not receipt.journal.startswith(expected):
        raise Rejected(Rejection.BAD_PROOF, f"the receipt is for other inputs than the task's ({program_id})")
    return receipt
