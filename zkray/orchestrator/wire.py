"""Protobuf on the wire: the generated message classes, strict decoding, and timestamp conversion."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from zkray.orchestrator import orchestrator_pb2 as pb
from zkray.orchestrator.errors import WireError

CONTENT_TYPE = "application/octet-stream"
# Also accepted from clients; Nexus sends application/octet-stream.
ACCEPTED_TYPES = frozenset({CONTENT_TYPE, "application/x-protobuf", "application/protobuf"})

M = TypeVar("M", bound=Message)


def decode(cls: type[M], body: bytes) -> M:
    """Parse `body` as `cls`; raise WireError (never DecodeError) on bytes that are not that message."""
    msg = cls()
    try:
        msg.ParseFromString(body)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise WireError(f"body is not a valid {cls.DESCRIPTOR.full_name}: {e}") from e
    return msg


def timestamp(seconds: float) -> Timestamp:
    """A protobuf Timestamp for a Unix time in seconds."""
    ts = Timestamp()
    ts.FromNanoseconds(round(seconds * 1e9))
    return ts


def seconds(ts: Timestamp) -> float:
    """Unix seconds of a Timestamp (0.0 when unset)."""
    return ts.ToNanoseconds() / 1e9


__all__ = ["ACCEPTED_TYPES", "CONTENT_TYPE", "decode", "pb", "seconds", "timestamp"]
