"""Signing statement, proof hash, protobuf decoding and the generated module's agreement with the .proto."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import zkray.orchestrator
from zkray.orchestrator import NodeKey, WireError, proof_hash, sign_submission, signature_valid, signing_message
from zkray.orchestrator.wire import decode, pb, seconds, timestamp

KECCAK_EMPTY = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_proof_hash_is_lowercase_hex_keccak256_without_prefix():
    assert proof_hash(b"") == KECCAK_EMPTY
    assert re.fullmatch(r"[0-9a-f]{64}", proof_hash(b"zkray"))


def test_signing_message_is_the_nexus_statement():
    assert signing_message("t-000001", KECCAK_EMPTY) == b"0 | t-000001 | " + KECCAK_EMPTY.encode()


def test_signature_binds_task_hash_key_and_version():
    key, other = NodeKey.generate(), NodeKey.generate()
    sig = sign_submission(key.private, "t-1", KECCAK_EMPTY)
    assert signature_valid(key.public_bytes, sig, "t-1", KECCAK_EMPTY, 0)
    assert not signature_valid(key.public_bytes, sig, "t-2", KECCAK_EMPTY, 0)
    assert not signature_valid(key.public_bytes, sig, "t-1", proof_hash(b"x"), 0)
    assert not signature_valid(other.public_bytes, sig, "t-1", KECCAK_EMPTY, 0)
    assert not signature_valid(key.public_bytes, sig, "t-1", KECCAK_EMPTY, 1)
    assert not signature_valid(key.public_bytes[:31], sig, "t-1", KECCAK_EMPTY, 0)
    assert not signature_valid(key.public_bytes, sig[:63], "t-1", KECCAK_EMPTY, 0)
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    assert not signature_valid(key.public_bytes, flipped, "t-1", KECCAK_EMPTY, 0)


@given(st.binary(max_size=300))
def test_decoding_arbitrary_bytes_yields_a_message_or_wire_error(body: bytes):
    for cls in (pb.GetProofTaskRequest, pb.SubmitProofRequest, pb.NodeStatsReport):
        try:
            decode(cls, body)
        except WireError:
            pass


def test_corrupt_bytes_raise_wire_error_naming_the_message():
    with pytest.raises(WireError, match="SubmitProofRequest"):
        decode(pb.SubmitProofRequest, b"\xff\xff\xff")


def test_timestamps_round_trip():
    assert seconds(timestamp(1_700_000_000.25)) == pytest.approx(1_700_000_000.25)


def test_generated_module_matches_the_proto_file():
    proto = (Path(zkray.orchestrator.__file__).parent / "orchestrator.proto").read_text()
    declared = set(re.findall(r"^message (\w+)", proto, re.M))
    assert declared == set(pb.DESCRIPTOR.message_types_by_name)
    for name in declared:
        body = proto.split(f"message {name} {{", 1)[1].split("\n}", 1)[0]
        fields = {m[0]: int(m[1]) for m in re.findall(r"^\s+(?:repeated\s+)?[\w.]+\s+(\w+)\s*=\s*(\d+);", body, re.M)}
        generated = {f.name: f.number for f in pb.DESCRIPTOR.message_types_by_name[name].fields}
        assert fields == generated, name


def test_public_surface_names_exist():
    for name in zkray.orchestrator.__all__:
        assert hasattr(zkray.orchestrator, name), name


def test_retry_after_in_seconds_or_as_an_http_date():
    from zkray.orchestrator.client import parse_retry_after

    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    for unreadable in (None, "", "soon", "-1"):
        assert parse_retry_after(unreadable) is None
