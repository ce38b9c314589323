"""zkray: a Ray-native proving cluster and marketplace prover node.

The public surface is what users call from a notebook or a script; everything else is internal.
"""

from zkray.zkvm.errors import ProofError, ReceiptError, VerificationError, ZkvmError

__all__ = [
    "ProofError",
    "ReceiptError",
    "VerificationError",
    "ZkvmError",
]
