"""Proving an ELF guest in segments: one pure function per segment (a Ray task in the node), then compose.

`prove_segment_receipt` re-executes the guest to the segment's first cycle, traces and proves the segment
and attaches the Merkle siblings of its words in the start memory; it takes and returns only bytes, so
it ships to any worker. `compose` checks that the segments chain and wraps them in a Receipt;
`prove_elf` does both in-process, one segment after another.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkray.zkvm.continuation.codec import SegmentReceipt, decode_segment, encode_composite, encode_segment
from zkray.zkvm.continuation.memory import SparseTree
from zkray.zkvm.continuation.verify import ChainSummary, check_chain
from zkray.zkvm.elf import Program
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams
from zkray.zkvm.receipt import Receipt
from zkray.zkvm.rv32im.executor import load
from zkray.zkvm.rv32im.image import image_id
from zkray.zkvm.rv32im.segment import execute_segment, plan_segments

DEFAULT_SEGMENT_CYCLES = 1 << 16
"""Cycles per segment. A full segment fills 2^16 CPU rows exactly (no padding row), the size at which the
prover is fastest per cycle here (~21 kHz, bench/bench_rv32im.py) and well inside the multi-chip verifier's
LogUp security check (101 bits; 2^17 rows is the last size above 100). Smaller segments parallelise more
but each pays for the fixed 2^16-row byte table, so below ~2^13 cycles most of a segment's proving time is
overhead; a run shorter than a segment is one segment of its own length (rows rounded up to a power of 2)."""


def prove_segment_receipt(elf: bytes | Program, input: bytes, index: int, segment_cycles: int = DEFAULT_SEGMENT_CYCLES,
                          params: StarkParams = DEFAULT_PARAMS, *, check: bool = True) -> bytes:
    """The encoded receipt of segment `index` of the run of `elf` on `input` (pure: bytes in, bytes out).
    `check=False` skips the prover's debug check of every constraint on the trace (~10 % of a 2^16-cycle
    segment) for callers that verify the receipt anyway, as the node's join task does.

    IndexError past the last segment; ExecutionError if the guest faults; ProofError if the segment uses
    something the AIR cannot prove."""
    from zkray.zkvm.rv32im_air.segment import prove_segment  # prover-only import

    program = load(elf)
    run = execute_segment(program, input, index, segment_cycles=segment_cycles)
    claim, proof = prove_segment(program, run, params=params, check=check)
    siblings = SparseTree.of_memory(run.start_memory).witness([a for a, _, _ in claim.memory])
    return encode_segment(SegmentReceipt(claim, proof, tuple(siblings)))


def compose(elf: bytes | Program, segments: Sequence[bytes], params: StarkParams = DEFAULT_PARAMS) -> Receipt:
    """The receipt of a run from its encoded segment receipts, in order; ReceiptError if one is malformed,
    VerificationError if they do not chain from the image to a halt. (The STARKs are checked by
    `Receipt.verify`, which whoever relies on the receipt runs anyway.)"""
    program = load(elf)
    iid = image_id(program)
    receipts = [decode_segment(s, params, f"segment {i}") for i, s in enumerate(segments)]
    summary: ChainSummary = check_chain(program, receipts)
    return Receipt(iid, summary.journal, encode_composite([bytes(s) for s in segments]))


def prove_elf(elf: bytes | Program, input: bytes = b"", *, segment_cycles: int = DEFAULT_SEGMENT_CYCLES,
              params: StarkParams = DEFAULT_PARAMS) -> Receipt:
    """Prove every segment here, one after another, and compose them (a cluster fans them out instead)."""
    program = load(elf)
    plan = plan_segments(program, input, segment_cycles=segment_cycles)
    parts = [prove_segment_receipt(program, input, i, segment_cycles, params) for i in range(plan.segments)]
    return compose(program, parts, params)
