"""The multi-chip seal: canonical, strict decoding (ReceiptError on anything malformed), and every
single-byte change to a valid seal is rejected."""

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_multi_chips import BYTES, SQUARES, byte_table_trace, limbs_chip, limbs_trace, random_xs, square_traces

from zkray.zkvm.errors import ReceiptError, VerificationError
from zkray.zkvm.multi import decode, encode, prove_multi, verify_multi_seal
from zkray.zkvm.multi.proof import MAGIC
from zkray.zkvm.params import DEFAULT_PARAMS

HEADER = MAGIC + DEFAULT_PARAMS.encode()


@pytest.fixture(scope="module")
def seal():
    return encode(prove_multi(SQUARES, square_traces(random_xs(20))))


def test_roundtrip_is_canonical(seal):
    assert encode(decode(seal, SQUARES, DEFAULT_PARAMS)) == seal


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_seal_byte_flips_are_rejected(seal, data):
    bad = bytearray(seal)
    pos = data.draw(st.integers(0, len(bad) - 1), label="position")
    bad[pos] ^= data.draw(st.integers(1, 255), label="xor mask")
    with pytest.raises(VerificationError):
        verify_multi_seal(SQUARES, bytes(bad), (), DEFAULT_PARAMS)


def test_a_flip_in_every_region_is_rejected(seal):
    # Hypothesis samples positions; this walks the seal at a fixed stride so every region is hit.
    for pos in range(0, len(seal), max(1, len(seal) // 150)):
        bad = bytearray(seal)
        bad[pos] ^= 0x01
        with pytest.raises(VerificationError):
            verify_multi_seal(SQUARES, bytes(bad), (), DEFAULT_PARAMS)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_give_receipt_error(data):
    with pytest.raises(ReceiptError):
        decode(data, SQUARES, DEFAULT_PARAMS)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_after_a_valid_header_give_receipt_error(tail):
    with pytest.raises(ReceiptError):
        decode(HEADER + struct.pack("<H", 2) + tail, SQUARES, DEFAULT_PARAMS)


def test_every_truncation_and_trailing_bytes_give_receipt_error(seal):
    for cut in [*range(0, 64), *range(64, len(seal), max(1, len(seal) // 400))]:
        with pytest.raises(ReceiptError):
            decode(seal[:cut], SQUARES, DEFAULT_PARAMS)
    with pytest.raises(ReceiptError, match="trailing"):
        decode(seal + b"\0", SQUARES, DEFAULT_PARAMS)


def test_header_fields_are_checked(seal):
    with pytest.raises(ReceiptError, match="magic"):
        decode(b"ZKS1" + seal[4:], SQUARES, DEFAULT_PARAMS)
    with pytest.raises(ReceiptError, match="parameters"):
        decode(seal[:5] + bytes([seal[5] ^ 1]) + seal[6:], SQUARES, DEFAULT_PARAMS)
    with pytest.raises(ReceiptError, match="3 chips"):
        decode(HEADER + struct.pack("<H", 3) + seal[12:], SQUARES, DEFAULT_PARAMS)
    for log_n in (0, 25, 255):
        with pytest.raises(ReceiptError, match="log_n"):
            decode(HEADER + struct.pack("<HB", 2, log_n) + seal[13:], SQUARES, DEFAULT_PARAMS)
    with pytest.raises(ReceiptError, match="chips"):
        decode(seal, [*SQUARES, BYTES], DEFAULT_PARAMS)


def test_non_canonical_field_element_is_refused(seal):
    # The first cumulative sum follows the header (12), two heights and two groups' roots (3 + 3 digests).
    pos = 12 + 2 + 6 * 32
    bad = seal[:pos] + np.array([2**32 - 1], dtype="<u4").tobytes() + seal[pos + 4 :]
    with pytest.raises(ReceiptError, match="non-canonical"):
        decode(bad, SQUARES, DEFAULT_PARAMS)


def test_row_count_bound_is_enforced():
    # A seal claiming more opened rows than queries is malformed, not merely wrong.
    chips = [limbs_chip("test-limbs-a", 4), BYTES]
    ta = limbs_trace(np.arange(16) * 4099)
    good = encode(prove_multi(chips, [ta, byte_table_trace(ta)]))
    proof = decode(good, chips, DEFAULT_PARAMS)
    op = proof.groups[0].main_open
    op.rows = np.concatenate([op.rows] * 2)[: DEFAULT_PARAMS.num_queries + 1]
    with pytest.raises(ReceiptError, match="row count"):
        decode(encode(proof), chips, DEFAULT_PARAMS)
