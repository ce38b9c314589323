"""zkray: a Ray-native proving cluster and marketplace prover node.

The public surface is what users call from a notebook or a script; everything else is internal.
"""

from zkray.proving import guests, prove, verify
from zkray.zkvm.errors import InputError, ProofError, ReceiptError, VerificationError, ZkvmError
from zkray.zkvm.receipt import Receipt
from zkray.zkvm.rv32im import ElfError, ExecutionError, Session, execute

__all__ = [
    "ElfError",
    "ExecutionError",
    "InputError",
    "ProofError",
    "Receipt",
    "ReceiptError",
    "Session",
    "VerificationError",
    "ZkvmError",
    "execute",
    "guests",
    "prove",
    "verify",
]
