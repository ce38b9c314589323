"""Continuations: long runs of an ELF guest proven as independent segments, chained by state digests.

memory.py (the sparse memory Merkle tree) → state.py (state digests) → codec.py (segment receipts, the
composite seal) → verify.py (the chain and every segment's STARK) → prove.py (segment receipts, compose).
docs/receipts.md describes the formats and why verification is sound.
"""

from zkray.zkvm.continuation.codec import SegmentReceipt, decode_composite, decode_segment, is_composite
from zkray.zkvm.continuation.prove import DEFAULT_SEGMENT_CYCLES, compose, prove_elf, prove_segment_receipt
from zkray.zkvm.continuation.state import state_digest
from zkray.zkvm.continuation.verify import ChainSummary, check_chain, verify_composite

__all__ = [
    "DEFAULT_SEGMENT_CYCLES",
    "ChainSummary",
    "SegmentReceipt",
    "check_chain",
    "compose",
    "decode_composite",
    "decode_segment",
    "is_composite",
    "prove_elf",
    "prove_segment_receipt",
    "state_digest",
    "verify_composite",
]
