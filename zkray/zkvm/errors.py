"""The proof system's exception tree, drawn once:

    ZkvmError                     anything the proof system refuses
    ├── ReceiptError              bytes that are not a well-formed receipt or seal (decoding)
    ├── ProofError                the prover refuses its input (a witness that violates the AIR)
    ├── InputError                a guest input that is malformed or out of range
    └── VerificationError         a well-formed proof that does not prove the claim

Verification raises; it never returns a bare bool, so a forgotten check cannot pass silently.
"""

from __future__ import annotations


class ZkvmError(Exception):
    """Base of every error the proof system raises on purpose."""


class ReceiptError(ZkvmError):
    """The bytes are not a canonical receipt or seal; the message says which field and why."""


class ProofError(ZkvmError):
    """The prover was given a witness that does not satisfy the AIR; names the row and constraint."""


class VerificationError(ZkvmError):
    """The proof is well formed but does not verify; the message names the failed check."""


class InputError(ZkvmError):
    """A guest's input is malformed or out of range; the message says what the guest expects."""
