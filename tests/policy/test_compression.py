"""Codec choice, framed round trips, and refusal of every kind of bad frame."""

from __future__ import annotations

import os

import lz4.frame
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from zkray.policy.compression import (
    Codec,
    Purpose,
    choose_codec,
    compress,
    decompress,
    frame_codec,
)
from zkray.policy.errors import CompressionError

PROOFLIKE = (b"seal" + bytes(range(64))) * 240  # structured, compressible by both codecs


def test_choice_by_size_and_purpose() -> None:
    assert choose_codec(255) is Codec.NONE
    assert choose_codec(256) is Codec.ZSTD
    assert choose_codec(10_000, Purpose.SPEED) is Codec.LZ4


def test_frames_name_their_codec_and_round_trip() -> None:
    for purpose, codec in [(Purpose.SIZE, Codec.ZSTD), (Purpose.SPEED, Codec.LZ4)]:
        frame = compress(PROOFLIKE, purpose)
        assert frame_codec(frame) is codec and len(frame) < len(PROOFLIKE)
        assert decompress(frame) == PROOFLIKE
    small = compress(b"tiny")
    assert small == b"\x00tiny" and decompress(small) == b"tiny"


def test_incompressible_bytes_are_stored_plain() -> None:
    noise = os.urandom(4096)
    assert frame_codec(compress(noise)) is Codec.NONE
    assert decompress(compress(noise, codec=Codec.LZ4)) == noise


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000), st.sampled_from(list(Purpose)), st.sampled_from([None, *Codec]))
def test_round_trip(data: bytes, purpose: Purpose, codec: Codec | None) -> None:
    assert decompress(compress(data, purpose, codec)) == data


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([Codec.ZSTD, Codec.LZ4]), st.data())
def test_a_flipped_byte_never_yields_different_bytes(codec: Codec, data: st.DataObject) -> None:
    frame = bytearray(compress(PROOFLIKE, codec=codec))
    assert frame_codec(bytes(frame)) is codec  # raw frames carry no checksum: digests guard those
    index = data.draw(st.integers(1, len(frame) - 1))
    frame[index] ^= data.draw(st.integers(1, 255))
    try:
        out = decompress(bytes(frame))
    except CompressionError:
        return
    assert out == PROOFLIKE


@pytest.mark.parametrize("codec", [Codec.ZSTD, Codec.LZ4])
def test_truncated_and_padded_frames_are_refused(codec: Codec) -> None:
    frame = compress(PROOFLIKE, codec=codec)
    with pytest.raises(CompressionError, match=r"truncated|corrupt"):
        decompress(frame[:-4])
    with pytest.raises(CompressionError, match="after the end"):
        decompress(frame + b"\x00")


def test_bad_headers_are_refused() -> None:
    with pytest.raises(CompressionError, match="empty"):
        decompress(b"")
    with pytest.raises(CompressionError, match="unknown codec byte 0x07"):
        decompress(b"\x07abc")
    with pytest.raises(CompressionError, match="corrupt ZSTD"):
        decompress(b"\x01not zstd at all")


def test_decompression_bombs_stop_at_the_cap() -> None:
    zeros = bytes(8 * 1024 * 1024)
    with pytest.raises(CompressionError, match="declares"):
        decompress(compress(zeros), max_size=1024 * 1024)
    undeclared = b"\x01" + zstandard.ZstdCompressor(write_content_size=False).compress(zeros)
    with pytest.raises(CompressionError, match="inflates past"):
        decompress(undeclared, max_size=1024 * 1024)
    lz4_bomb = b"\x02" + lz4.frame.compress(zeros, store_size=False)
    with pytest.raises(CompressionError, match="inflates past"):
        decompress(lz4_bomb, max_size=1024 * 1024)
    with pytest.raises(CompressionError, match="cap"):
        decompress(b"\x00" + bytes(11), max_size=10)
