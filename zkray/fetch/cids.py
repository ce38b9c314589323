"""Content addresses: parsing `ipfs://CID[/path]` and checking a block against its CID.

Verification uses `multiformats`: the CID names the hash function and digest length, and the block
is accepted only if hashing it that way reproduces the digest. Identity CIDs carry their bytes inline
and need no fetch at all.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import unquote

from multiformats import CID, multihash

from zkray.fetch.errors import BadCid, BadUrl, ContentMismatch, UnsupportedContent

RAW = 0x55
DAG_PB = 0x70
IDENTITY = 0x00
SUPPORTED_CODECS = {RAW: "raw", DAG_PB: "dag-pb"}


@dataclass(frozen=True)
class IpfsPath:
    """A root CID and the directory names to walk below it."""

    root: CID
    segments: tuple[str, ...]


def parse_cid(text: str) -> CID:
    """Decode a CID (v0 `Qm…` or v1 multibase), or raise BadCid quoting it."""
    try:
        return CID.decode(text)
    except (KeyError, ValueError, TypeError) as exc:
        raise BadCid(f"{text!r} is not a CID ({exc}); expected CIDv0 'Qm…' or CIDv1 such as 'bafy…'") from exc


def parse_ipfs_url(url: str) -> IpfsPath:
    """Split `ipfs://CID/a/b` (or `/ipfs/CID/a/b`) into the root CID and path segments."""
    for prefix in ("ipfs://", "/ipfs/"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            break
    else:
        raise BadUrl(f"{url!r} is not an IPFS URL; use ipfs://CID[/path]")
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    head, *tail = rest.split("/")
    segments = tuple(unquote(s) for s in tail if s)
    if any(s in (".", "..") for s in segments):
        raise BadUrl(f"{url!r}: '.' and '..' are not allowed in IPFS paths")
    return IpfsPath(parse_cid(head), segments)


def check_supported(cid: CID) -> None:
    """Refuse codecs and hash functions we cannot verify, before asking any gateway."""
    if cid.codec.code not in SUPPORTED_CODECS:
        raise UnsupportedContent(
            f"CID {cid} has codec {cid.codec.name}; only raw and dag-pb (UnixFS) inputs are fetched"
        )
    if not multihash.is_implemented(cid.hashfun.name):
        raise UnsupportedContent(f"CID {cid} uses hash {cid.hashfun.name}, which this node cannot verify")


def verify_block(cid: CID, block: bytes) -> None:
    """Raise ContentMismatch unless `block` hashes to the digest in `cid`."""
    expected = bytes(cid.raw_digest)
    if cid.hashfun.code == IDENTITY:
        actual = bytes(block)
    else:
        actual = bytes(multihash.unwrap(multihash.digest(block, cid.hashfun, size=len(expected))))
    if not hmac.compare_digest(actual, expected):
        raise ContentMismatch(f"block of {len(block)} bytes does not hash to {cid} ({cid.hashfun.name})")


def inline_block(cid: CID) -> bytes | None:
    """The block bytes of an identity CID (they are the digest), else None."""
    return bytes(cid.raw_digest) if cid.hashfun.code == IDENTITY else None
