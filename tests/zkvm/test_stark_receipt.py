"""Receipt decoding fuzz and seal bit flips: every malformed or altered byte is rejected."""

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zkray
from zkray.zkvm.errors import ReceiptError, VerificationError, ZkvmError
from zkray.zkvm.receipt import MAGIC, Receipt


@pytest.fixture(scope="module")
def receipt():
    return zkray.prove("fib_input_initial", {"n": 50, "a": 7, "b": 11})


def test_roundtrip_is_canonical(receipt):
    data = receipt.encode()
    again = Receipt.decode(data)
    assert again == receipt and again.encode() == data


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_give_receipt_error(data):
    with pytest.raises(ReceiptError):
        Receipt.decode(data)


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=120))
def test_random_bytes_after_a_valid_header_give_receipt_error(tail):
    with pytest.raises(ReceiptError):
        Receipt.decode(MAGIC + struct.pack("<H", 1) + tail)


def test_every_truncation_gives_receipt_error(receipt):
    data = receipt.encode()
    cut_points = list(range(0, 80)) + list(range(80, len(data), max(1, len(data) // 500)))
    for cut in cut_points:
        with pytest.raises(ReceiptError):
            Receipt.decode(data[:cut])
    with pytest.raises(ReceiptError, match="trailing"):
        Receipt.decode(data + b"\0")


def test_header_fields(receipt):
    data = bytearray(receipt.encode())
    with pytest.raises(ReceiptError, match="magic"):
        Receipt.decode(b"XXXX" + bytes(data[4:]))
    with pytest.raises(ReceiptError, match="version"):
        Receipt.decode(bytes(data[:4]) + struct.pack("<H", 2) + bytes(data[6:]))
    huge = bytes(data[:38]) + struct.pack("<I", 2**31) + bytes(data[42:])
    with pytest.raises(ReceiptError, match="exceeds"):
        Receipt.decode(huge)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_seal_byte_flips_are_rejected(receipt, data):
    seal = bytearray(receipt.seal)
    pos = data.draw(st.integers(0, len(seal) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="xor mask")
    seal[pos] ^= mask
    with pytest.raises(ZkvmError):
        Receipt(receipt.image_id, receipt.journal, bytes(seal)).verify()


def test_truncated_or_extended_seal_is_a_verification_error(receipt):
    for seal in (receipt.seal[:-1], receipt.seal + b"\0", b"", receipt.seal[:100]):
        with pytest.raises(VerificationError, match="malformed"):
            Receipt(receipt.image_id, receipt.journal, seal).verify()
