"""Plain HTTP(S) inputs (the devnet serves inputs over loopback HTTP): digest, retries, cap, breaker."""

from __future__ import annotations

import hashlib

import pytest
from fetch_support import config

import zkray.fetch
from zkray.fetch import (
    BadUrl,
    CircuitOpen,
    FetchError,
    GatewayError,
    InputDigestMismatch,
    InputFetcher,
    LocalBreakers,
    Timeout,
    TooLarge,
    fetch_input,
    input_digest,
)

PAYLOAD = b"guest input bytes" * 100


async def test_http_input_with_its_sha256_digest(start_gateway):
    server = await start_gateway({b"in.bin": PAYLOAD})
    digest = hashlib.sha256(PAYLOAD).digest()
    assert input_digest(PAYLOAD) == digest
    got = await fetch_input(f"{server.url}/file/in.bin", expected_digest=digest, config=config())
    assert got == PAYLOAD


async def test_http_digest_mismatch_is_final(start_gateway):
    server = await start_gateway({b"in.bin": PAYLOAD})
    with pytest.raises(InputDigestMismatch, match="inputDigest"):
        await fetch_input(f"{server.url}/file/in.bin", expected_digest=b"\0" * 32, config=config(attempts=3))
    assert len(server.requests) == 1
    with pytest.raises(ValueError, match="32-byte"):
        await fetch_input(f"{server.url}/file/in.bin", expected_digest=b"\0" * 20, config=config())


async def test_http_retries_server_errors_but_not_404(start_gateway):
    server = await start_gateway({b"in.bin": PAYLOAD}, fail_first=2)
    assert await fetch_input(f"{server.url}/file/in.bin", expected_digest=None, config=config(attempts=3)) == (PAYLOAD)
    assert len(server.requests) == 3
    with pytest.raises(GatewayError, match="404") as info:
        await fetch_input(f"{server.url}/file/absent", expected_digest=None, config=config(attempts=3))
    assert info.value.status == 404 and not info.value.retryable
    assert len(server.requests) == 4


async def test_http_cap_and_timeout(start_gateway):
    server = await start_gateway({b"in.bin": PAYLOAD})
    with pytest.raises(TooLarge):
        await fetch_input(f"{server.url}/file/in.bin", expected_digest=None, config=config(max_bytes=100))
    hung = await start_gateway({b"in.bin": PAYLOAD}, "hang")
    with pytest.raises(Timeout):
        await fetch_input(f"{hung.url}/file/in.bin", expected_digest=None, config=config(gateway_timeout_s=0.2))


async def test_http_origin_breaker_opens(start_gateway, clock):
    server = await start_gateway({}, fail_first=100)
    breakers = LocalBreakers(failure_threshold=3)
    async with InputFetcher(config(attempts=1), breakers=breakers, clock=clock) as fetcher:
        for _ in range(3):
            with pytest.raises(GatewayError, match="503"):
                await fetcher.fetch(f"{server.url}/file/x", expected_digest=None)
        with pytest.raises(CircuitOpen, match=r"127\.0\.0\.1"):
            await fetcher.fetch(f"{server.url}/file/x", expected_digest=None)
    assert len(server.requests) == 3


async def test_unknown_schemes_and_missing_gateways_are_refused():
    with pytest.raises(BadUrl, match="ipfs://CID"):
        await fetch_input("ftp://example.org/input", expected_digest=None, config=config())
    cid = "bafkreif2pall7dybz7vecqka3zo24irdwabwdi4wc55jznaq75q7eaavvu"
    with pytest.raises(FetchError, match="no IPFS gateways"):
        await fetch_input(f"ipfs://{cid}", expected_digest=None, config=config(gateways=()))


def test_public_surface_is_exactly_all():
    public = {name for name in dir(zkray.fetch) if not name.startswith("_")}
    modules = {
        "breakers",
        "cids",
        "config",
        "dagpb",
        "errors",
        "fetcher",
        "http",
        "protobuf",
        "race",
        "retry",
        "unixfs",
    }
    assert public - modules == set(zkray.fetch.__all__)
    for name in zkray.fetch.__all__:
        assert getattr(zkray.fetch, name).__doc__, name
