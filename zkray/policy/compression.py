"""Which codec to use for a blob, and a self-describing frame: 1 header byte naming the codec, then the body.

Choice (brief defaults): below 256 B nothing pays for a codec's header, so NONE; where speed matters
(bytes hopping between Ray tasks) LZ4; otherwise (proofs stored or sent on) zstd level 3. If the
codec does not shrink the blob it is stored as NONE. Decompression is bounded: it stops as soon as the
output passes `max_size` (default 100 MiB), so a small hostile frame cannot exhaust memory, and it
requires exactly one complete frame with nothing after it. Compressed frames carry the codec's
content checksum, so a damaged one raises CompressionError rather than returning wrong bytes; a NONE
frame is raw bytes with no checksum, and its integrity is the caller's digest's job (CID, input digest,
receipt digest), as it is for every blob the node handles.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

import lz4.frame
import zstandard

from zkray.policy.errors import CompressionError

MIN_SIZE = 256
ZSTD_LEVEL = 3
MAX_SIZE = 100 * 1024 * 1024
_CHUNK = 256  # compressed bytes fed per step: bounds the overshoot past max_size to a few MiB


class Codec(IntEnum):
    """The header byte of a frame."""

    NONE = 0
    ZSTD = 1
    LZ4 = 2


class Purpose(StrEnum):
    """What the bytes are for, which decides between ratio and speed."""

    SIZE = "size"  # stored or sent over a network: smallest wins
    SPEED = "speed"  # passed between local tasks: fastest wins


def choose_codec(size: int, purpose: Purpose = Purpose.SIZE, min_size: int = MIN_SIZE) -> Codec:
    """NONE below `min_size`, LZ4 for speed, zstd otherwise."""
    if size < min_size:
        return Codec.NONE
    return Codec.LZ4 if purpose is Purpose.SPEED else Codec.ZSTD


def compress(data: bytes, purpose: Purpose = Purpose.SIZE, codec: Codec | None = None) -> bytes:
    """Frame `data` with the chosen (or given) codec; falls back to NONE when compression does not help."""
    codec = choose_codec(len(data), purpose) if codec is None else codec
    if codec is Codec.ZSTD:
        body = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True).compress(data)
    elif codec is Codec.LZ4:
        body = lz4.frame.compress(data, store_size=True, content_checksum=True)
    else:
        return bytes([Codec.NONE]) + data
    if len(body) >= len(data):
        return bytes([Codec.NONE]) + data
    return bytes([codec]) + body


def frame_codec(frame: bytes) -> Codec:
    """The codec named by a frame's header byte."""
    if not frame:
        raise CompressionError("empty frame: expected at least the 1-byte codec header")
    try:
        return Codec(frame[0])
    except ValueError:
        raise CompressionError(f"unknown codec byte {frame[0]:#04x}; the frame was not written by zkray") from None


def decompress(frame: bytes, max_size: int = MAX_SIZE) -> bytes:
    """The original bytes of a frame; CompressionError if it is corrupt, truncated, padded or too large."""
    codec = frame_codec(frame)
    body = memoryview(frame)[1:]
    if codec is Codec.NONE:
        if len(body) > max_size:
            raise CompressionError(f"frame holds {len(body)} bytes, over the {max_size}-byte cap")
        return bytes(body)
    try:
        return _zstd(body, max_size) if codec is Codec.ZSTD else _lz4(body, max_size)
    except CompressionError:
        raise
    except (zstandard.ZstdError, RuntimeError, ValueError) as exc:
        raise CompressionError(f"corrupt {codec.name} frame: {exc}") from exc


def _zstd(body: memoryview, max_size: int) -> bytes:
    declared = zstandard.frame_content_size(body)
    if declared > max_size:
        raise CompressionError(f"zstd frame declares {declared} bytes, over the {max_size}-byte cap")
    stream = zstandard.ZstdDecompressor().decompressobj()
    parts: list[bytes] = []
    size = 0
    for start in range(0, len(body), _CHUNK):
        part = stream.decompress(body[start : start + _CHUNK])
        size += len(part)
        if size > max_size:
            raise CompressionError(f"zstd frame inflates past the {max_size}-byte cap")
        parts.append(part)
        if stream.eof:
            if start + _CHUNK < len(body) or stream.unused_data:
                raise CompressionError("bytes after the end of the zstd frame")
            break
    if not stream.eof:
        raise CompressionError("truncated zstd frame")
    data = b"".join(parts)
    if declared >= 0 and len(data) != declared:
        raise CompressionError(f"zstd frame declared {declared} bytes but holds {len(data)}")
    return data


def _lz4(body: memoryview, max_size: int) -> bytes:
    stream = lz4.frame.LZ4FrameDecompressor()
    data = stream.decompress(bytes(body), max_length=max_size + 1)
    if len(data) > max_size:
        raise CompressionError(f"lz4 frame inflates past the {max_size}-byte cap")
    if not stream.eof:
        raise CompressionError("truncated lz4 frame")
    if stream.unused_data:
        raise CompressionError("bytes after the end of the lz4 frame")
    return data
