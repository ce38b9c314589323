"""zkray: a Ray-native proving cluster and marketplace prover node.

The public surface is what users call from a notebook or a script; everything else is internal.
`prove(guest, input)` proves a built-in guest by name or an RV32IM ELF guest (bytes or path) and
`verify(receipt, program=elf)` checks it. To spread an ELF guest's segments over a cluster yourself:
`plan_segments(elf, input, segment_cycles=...)` counts them, `prove_segment_receipt(elf, input, i,
segment_cycles)` proves one (pure, bytes in and out: a Ray task body), `compose(elf, parts)` joins them.
"""

from zkray.proving import guests, prove, verify
from zkray.zkvm.continuation import DEFAULT_SEGMENT_CYCLES, compose, prove_segment_receipt
from zkray.zkvm.errors import InputError, ProofError, ReceiptError, VerificationError, ZkvmError
from zkray.zkvm.receipt import Receipt
from zkray.zkvm.rv32im import ElfError, ExecutionError, Session, execute
from zkray.zkvm.rv32im.segment import plan_segments

__all__ = [
    "DEFAULT_SEGMENT_CYCLES",
    "ElfError",
    "ExecutionError",
    "InputError",
    "ProofError",
    "Receipt",
    "ReceiptError",
    "Session",
    "VerificationError",
    "ZkvmError",
    "compose",
    "execute",
    "guests",
    "plan_segments",
    "prove",
    "prove_segment_receipt",
    "verify",
]
