"""The segment-receipt and composite-seal codecs: canonical round trips, and strictness — every truncation
and random bit flips give a ReceiptError (or, where the bytes still parse, a receipt that fails to
verify), never another exception."""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_continuation_receipt import receipt, segments

from zkray.zkvm import multi
from zkray.zkvm.continuation.codec import (
    SEGMENT_MAGIC,
    decode_composite,
    decode_segment,
    encode_composite,
    encode_segment,
    split_composite,
)
from zkray.zkvm.continuation.verify import verify_composite
from zkray.zkvm.errors import ReceiptError, VerificationError
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams
from zkray.zkvm.rv32im import load_elf

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def part() -> bytes:
    return segments()[1][0]


@functools.cache
def header_len() -> int:
    """Bytes before the proof's seal (magic, claim, witness, the proof's length): all structural."""
    return len(part()) - len(multi.encode(decode_segment(part(), DEFAULT_PARAMS).proof))


def test_segment_receipts_round_trip_canonically():
    for p in segments()[1]:
        r = decode_segment(p, DEFAULT_PARAMS)
        assert encode_segment(r) == p
        assert r.claim.memory and len(r.siblings) > 0 and any(s is None for s in r.siblings)
    seal = receipt().seal
    assert encode_composite([encode_segment(r) for r in decode_composite(seal, DEFAULT_PARAMS)]) == seal


def test_every_truncation_of_the_claim_and_witness_is_refused():
    data = part()
    for n in range(header_len() + 8):
        with pytest.raises(ReceiptError):
            decode_segment(data[:n], DEFAULT_PARAMS)


@FUZZ
@given(st.data())
def test_truncations_anywhere_are_refused(data):
    seal = receipt().seal
    n = data.draw(st.integers(0, len(seal) - 1))
    with pytest.raises(ReceiptError):
        decode_composite(seal[:n], DEFAULT_PARAMS)
    with pytest.raises(ReceiptError):
        decode_composite(seal + b"\x00", DEFAULT_PARAMS)


@FUZZ
@given(st.data())
def test_bit_flips_give_receipt_errors_or_receipts_that_do_not_verify(data):
    seal = bytearray(receipt().seal)
    # half the flips land in the structural prefix of a segment (claim, witness, framing), half anywhere
    limit = header_len() + 8 if data.draw(st.booleans()) else len(seal)
    flips = data.draw(st.lists(st.integers(0, 8 * limit - 1), min_size=1, max_size=3, unique=True))
    for bit in flips:
        seal[bit // 8] ^= 1 << (bit % 8)
    try:
        decode_composite(bytes(seal), DEFAULT_PARAMS)
    except ReceiptError:
        return
    elf, _ = segments()
    r = receipt()
    with pytest.raises((ReceiptError, VerificationError)):
        verify_composite(load_elf(elf), r.image_id, r.journal, bytes(seal), exit_code=None)


def test_structural_fields_are_strict():
    data = bytearray(part())
    with pytest.raises(ReceiptError, match="magic"):
        decode_segment(b"ZKS1" + bytes(data[4:]), DEFAULT_PARAMS)
    assert data[:4] == SEGMENT_MAGIC
    halted = 4 + 2 * (4 + 128 + 16)
    bad = bytearray(data)
    bad[halted] = 2
    with pytest.raises(ReceiptError, match="halted flag"):
        decode_segment(bytes(bad), DEFAULT_PARAMS)
    with pytest.raises(ReceiptError, match="trailing"):
        decode_segment(bytes(data) + b"\x00", DEFAULT_PARAMS)
    with pytest.raises(ReceiptError, match="parameters"):
        decode_segment(bytes(data), StarkParams(num_queries=45))
    with pytest.raises(ReceiptError, match="segment count"):
        split_composite(b"ZKC1" + bytes(4))
    with pytest.raises(ReceiptError, match="magic"):
        split_composite(b"ZKRC" + bytes(8))
