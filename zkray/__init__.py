"""zkray: a Ray-native proving cluster and marketplace prover node.

The public surface is what users call from a notebook or a script; everything else is internal.
"""

from zkray.api_local import guests, prove, verify
from zkray.zkvm.errors import ProofError, ReceiptError, VerificationError, ZkvmError
from zkray.zkvm.receipt import Receipt

__all__ = [
    "ProofError",
    "Receipt",
    "ReceiptError",
    "VerificationError",
    "ZkvmError",
    "guests",
    "prove",
    "verify",
]
