"""Verifying a composite receipt: every segment's STARK, and the chain of state digests that joins them.

Why this proves the whole run (docs/receipts.md says it at length): each segment's proof shows that the
ELF, started in the claimed start state with the claimed words holding their `before` values, ran to the
claimed end state with those words holding their `after` values, reading and writing the claimed chunks.
The verifier — not the prover — computes each segment's start and end digest from its boundaries and the
Merkle roots recomputed from `before`/`after` and the siblings (a segment changes only the words it
touches, so one witness gives both roots). Segment 0 must start at the image state; each later one where
the previous one ended; only the last halts. Under SHA-256 collision resistance the digests pin the whole
machine state, so the segments compose into one run of the ELF from its entry point to its exit ECALL,
and a removed, repeated, reordered or foreign segment breaks the chain. The journal is the concatenation
of the journal chunks, which must equal the receipt's; the input chunks are the consumed input prefix.
Every segment states the same input length (each segment's AIR makes its reads short only at that length,
so segments proven against different lengths could hide a false EOF between them); a verifier that knows
the input checks the length too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkray.zkvm.continuation.codec import SegmentReceipt, decode_composite
from zkray.zkvm.continuation.memory import image_root, root_from_witness
from zkray.zkvm.continuation.state import check_boundary, initial_boundary, state_digest
from zkray.zkvm.elf import Program
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams
from zkray.zkvm.rv32im.image import image_id as image_id_of
from zkray.zkvm.rv32im_air.segment import verify_segment


@dataclass(frozen=True)
class ChainSummary:
    """What a well-chained list of segments states about the whole run."""

    segments: int
    exit_code: int
    journal: bytes
    input_read: bytes  # the input prefix the guest consumed
    final_digest: bytes
    input_len: int  # the length of the input the guest ran on (every segment states it)


def check_chain(program: Program, receipts: Sequence[SegmentReceipt]) -> ChainSummary:
    """Check the digests chain from the image to a halt (no STARK is verified here); VerificationError
    naming the first segment that does not fit."""
    if not receipts:
        raise VerificationError("a composite receipt needs at least one segment")
    root = image_root(program)
    digest = state_digest(initial_boundary(program), root)
    journal, consumed = bytearray(), bytearray()
    last = len(receipts) - 1
    input_len = receipts[0].claim.input_len
    for i, s in enumerate(receipts):
        c = s.claim
        check_boundary(c.start, f"segment {i} start")
        check_boundary(c.end, f"segment {i} end")
        if c.halted and i != last:
            raise VerificationError(f"segment {i} halts but {last - i} more follow it")
        if not c.halted and i == last:
            raise VerificationError(f"the last segment ({i}) does not halt: segments after it are missing")
        if not c.halted and c.exit_code:
            raise VerificationError(f"segment {i} does not halt but claims exit code {c.exit_code}")
        if c.input_len != input_len:
            raise VerificationError(f"segment {i} states an input of {c.input_len} bytes, segment 0 one of "
                                    f"{input_len}: the segments are not of one run")
        if c.end.input_pos != c.start.input_pos + len(c.input_chunk):
            raise VerificationError(f"segment {i}: input position moves by {c.end.input_pos - c.start.input_pos}, "
                                    f"its input chunk has {len(c.input_chunk)} bytes")
        if c.end.journal_len != c.start.journal_len + len(c.journal_chunk):
            raise VerificationError(f"segment {i}: journal length moves by {c.end.journal_len - c.start.journal_len}"
                                    f", its journal chunk has {len(c.journal_chunk)} bytes")
        if c.memory:
            pre = root_from_witness([(a, before) for a, before, _ in c.memory], s.siblings)
            post = root_from_witness([(a, after) for a, _, after in c.memory], s.siblings)
        elif s.siblings:
            raise VerificationError(f"segment {i} touches no memory but carries {len(s.siblings)} siblings")
        else:
            pre = post = root  # memory is untouched, so it is the previous segment's end memory
        if state_digest(c.start, pre) != digest:
            where = f"segment {i - 1}'s end" if i else "the image state (entry point, zero registers, image memory)"
            raise VerificationError(f"segment {i} does not start at {where}: state digests differ (a segment is "
                                    f"missing, repeated, out of order, or from another run)")
        root, digest = post, state_digest(c.end, post)
        journal += c.journal_chunk
        consumed += c.input_chunk
    return ChainSummary(len(receipts), receipts[-1].claim.exit_code, bytes(journal), bytes(consumed), digest,
                        input_len)


def verify_composite(program: Program, image_id: bytes, journal: bytes, seal: bytes,
                     params: StarkParams = DEFAULT_PARAMS, *, exit_code: int | None = 0,
                     input: bytes | None = None) -> ChainSummary:
    """Raise unless `seal` proves that `program` (whose image id must be `image_id`) ran from its entry
    point to an exit with `exit_code` (None: any) writing exactly `journal`; with `input`, the run's input
    length must be len(input) and the consumed input a prefix of it. ReceiptError for malformed bytes,
    VerificationError for a failed check."""
    actual = image_id_of(program)
    if actual != image_id:
        raise VerificationError(f"the receipt is for image {image_id.hex()}, but the ELF given has image "
                                f"{actual.hex()}: pass the ELF the receipt was proven for")
    receipts = decode_composite(seal, params)
    summary = check_chain(program, receipts)
    if summary.journal != journal:
        raise VerificationError(f"the receipt's journal ({len(journal)} bytes) is not what the segments wrote "
                                f"({len(summary.journal)} bytes)")
    if exit_code is not None and summary.exit_code != exit_code:
        raise VerificationError(f"the guest exited with code {summary.exit_code}, expected {exit_code} "
                                f"(pass exit_code=None to accept any exit code)")
    if input is not None and len(input) != summary.input_len:
        raise VerificationError(f"the guest ran on an input of {summary.input_len} bytes, the input given has "
                                f"{len(input)}")
    if input is not None and bytes(input[:len(summary.input_read)]) != summary.input_read:
        raise VerificationError(f"the guest consumed {len(summary.input_read)} input bytes that are not a prefix "
                                f"of the input given")
    for i, s in enumerate(receipts):
        try:
            verify_segment(program, s.claim, s.proof, params=params)
        except VerificationError as e:
            raise VerificationError(f"segment {i} of {len(receipts)}: {e}") from e
    return summary
