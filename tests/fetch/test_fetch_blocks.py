"""The block layer: protobuf reader, dag-pb/UnixFS decoding and CID checks, against real IPFS bytes."""

from __future__ import annotations

import hashlib

import pytest
from fetch_blocks import cid_of, pb_bytes, pb_varint, pbnode, unixfs, varint
from hypothesis import given, settings
from hypothesis import strategies as st
from multiformats import CID, multihash

from zkray.fetch import BadCid, BadUrl, ContentMismatch, UnsupportedContent
from zkray.fetch.cids import parse_ipfs_url, verify_block
from zkray.fetch.dagpb import UnixFsType, decode_pbnode, decode_unixfs
from zkray.fetch.protobuf import iter_fields, read_varint

HELLO_V0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"  # `ipfs add` of b"hello world\n"
EMPTY_DIR_V0 = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"  # `ipfs object new unixfs-dir`


def test_known_cids_match_the_test_encoder_and_the_reader():
    hello = pbnode([], unixfs(2, b"hello world\n", filesize=12))
    verify_block(CID.decode(HELLO_V0), hello)
    assert cid_of(hello, "dag-pb", version=0) == CID.decode(HELLO_V0)
    fs = decode_unixfs(decode_pbnode(hello).data)
    assert (fs.type, fs.data, fs.filesize) == (UnixFsType.FILE, b"hello world\n", 12)
    empty_dir = pbnode([], unixfs(1))
    verify_block(CID.decode(EMPTY_DIR_V0), empty_dir)
    assert decode_unixfs(decode_pbnode(empty_dir).data).type is UnixFsType.DIRECTORY


def test_verify_block_rejects_other_bytes_and_accepts_identity_cids():
    cid = cid_of(b"input", "raw")
    verify_block(cid, b"input")
    with pytest.raises(ContentMismatch, match="does not hash to"):
        verify_block(cid, b"inpuT")
    inline = CID("base32", 1, "raw", multihash.digest(b"tiny", "identity"))
    verify_block(inline, b"tiny")
    with pytest.raises(ContentMismatch):
        verify_block(inline, b"tinY")


@given(st.integers(min_value=0, max_value=2**64 - 1))
@settings(max_examples=200, deadline=None)
def test_varint_round_trip(n):
    encoded = varint(n)
    assert read_varint(encoded, 0) == (n, len(encoded))


@given(
    st.lists(st.tuples(st.binary(min_size=34, max_size=34), st.text(max_size=20), st.integers(0, 2**40))),
    st.binary(max_size=300),
)
@settings(max_examples=100, deadline=None)
def test_pbnode_round_trip(raw_links, payload):
    links = [(cid_of(seed, "raw"), name, tsize) for seed, name, tsize in raw_links]
    node = decode_pbnode(pbnode(links, unixfs(2, payload, filesize=len(payload))))
    assert [(link.cid, link.name, link.tsize) for link in node.links] == links
    assert decode_unixfs(node.data).data == payload


@given(st.binary(max_size=200))
@settings(max_examples=500, deadline=None)
def test_hostile_bytes_only_ever_raise_content_mismatch(block):
    """Whatever a gateway sends, the decoders answer with a value or ContentMismatch, nothing else."""
    for decode in (decode_pbnode, decode_unixfs):
        try:
            decode(block)
        except ContentMismatch:
            pass


@given(st.binary(max_size=60), st.binary(max_size=40))
@settings(max_examples=500, deadline=None)
def test_hostile_link_hashes_only_ever_raise_content_mismatch(cid_bytes, tail):
    """Random bytes where a binary CID belongs (the part a hand-written reader delegates to multiformats)."""
    try:
        decode_pbnode(pb_bytes(2, pb_bytes(1, cid_bytes) + tail))
    except ContentMismatch:
        pass


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        (b"\x80" * 11, "longer than"),
        (b"\x0a\x05abc", "claims 5 bytes"),
        (b"\x0a", "past the end"),
        (b"\x0d\x00\x00\x00\x00", "wire type 5"),
        (b"\x08\x80\x00", "not minimally encoded"),
        (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x00", "64 bits"),
        (b"\x00\x00", "field number 0"),
    ],
)
def test_protobuf_reader_is_strict(block, reason):
    with pytest.raises(ContentMismatch, match=reason):
        list(iter_fields(block))


def test_dagpb_refuses_non_canonical_or_unknown_fields():
    link = pb_bytes(2, pb_bytes(1, bytes(cid_of(b"x", "raw"))))
    data = pb_bytes(1, unixfs(2, b"x"))
    with pytest.raises(ContentMismatch, match="link follows the Data"):
        decode_pbnode(data + link)
    with pytest.raises(ContentMismatch, match="Data appears twice"):
        decode_pbnode(data + data)
    with pytest.raises(ContentMismatch, match="unknown PBNode field 3"):
        decode_pbnode(pb_bytes(3, b""))
    with pytest.raises(ContentMismatch, match="must be length-delimited"):
        decode_pbnode(pb_varint(1, 7))
    with pytest.raises(ContentMismatch, match="without a Hash"):
        decode_pbnode(pb_bytes(2, pb_bytes(2, b"name")))
    with pytest.raises(ContentMismatch, match="out of order"):
        decode_pbnode(pb_bytes(2, pb_bytes(2, b"n") + pb_bytes(1, bytes(cid_of(b"x", "raw")))))
    with pytest.raises(ContentMismatch, match="not a binary CID"):
        decode_pbnode(pb_bytes(2, pb_bytes(1, b"\x01\x02")))


def test_unixfs_refuses_missing_type_and_unknown_fields_but_reads_packed_blocksizes():
    with pytest.raises(ContentMismatch, match="not UnixFS"):
        decode_unixfs(None)
    with pytest.raises(ContentMismatch, match="Type is missing"):
        decode_unixfs(pb_bytes(2, b"data"))
    with pytest.raises(ContentMismatch, match="unknown Type"):
        decode_unixfs(pb_varint(1, 9))
    with pytest.raises(ContentMismatch, match="unknown field 9"):
        decode_unixfs(pb_varint(1, 2) + pb_varint(9, 1))
    packed = pb_varint(1, 2) + pb_bytes(4, varint(3) + varint(300))
    assert decode_unixfs(packed).blocksizes == (3, 300)


def test_ipfs_urls_parse_to_root_and_segments():
    path = parse_ipfs_url(f"ipfs://{HELLO_V0}/dir/in%20put.bin")
    assert path.root == CID.decode(HELLO_V0)
    assert path.segments == ("dir", "in put.bin")
    assert parse_ipfs_url(f"/ipfs/{HELLO_V0}").segments == ()
    with pytest.raises(BadCid, match="not a CID"):
        parse_ipfs_url("ipfs://not-a-cid")
    with pytest.raises(BadUrl, match=r"'\.\.'"):
        parse_ipfs_url(f"ipfs://{HELLO_V0}/../etc")


def test_unsupported_codecs_and_hashes_are_named():
    from zkray.fetch.cids import check_supported

    cbor = CID("base32", 1, "dag-cbor", multihash.wrap(hashlib.sha256(b"").digest(), "sha2-256"))
    with pytest.raises(UnsupportedContent, match="dag-cbor"):
        check_supported(cbor)
