"""`fetch_input`: the bytes behind a job's `inputUrl`, verified, or a typed `FetchError`.

Two kinds of URL: `ipfs://CID[/path]` goes to the gateway race (content checked block by block
against the CID), `http(s)://…` is one bounded GET with retries behind a breaker per origin (loopback
HTTP is how tests and the devnet serve inputs). Either way, when the job names an input digest, the
bytes are returned only if their SHA-256 equals it: zkray's input digest is `sha256(input bytes)`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import time
from collections.abc import Callable
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp
from multiformats import CID

from zkray.fetch.breakers import BreakerRegistry, LocalBreakers, guarded, is_probe
from zkray.fetch.cids import parse_ipfs_url
from zkray.fetch.config import FetchConfig
from zkray.fetch.errors import BadUrl, CircuitOpen, FetchError, InputDigestMismatch, Timeout
from zkray.fetch.http import get_bounded
from zkray.fetch.race import GatewayRace
from zkray.fetch.retry import retry_policy, with_retries
from zkray.fetch.unixfs import UnixFsReader

DIGEST_BYTES = 32


def input_digest(data: bytes) -> bytes:
    """The digest a job's `inputDigest` must equal: SHA-256 of the raw input bytes."""
    return hashlib.sha256(data).digest()


class InputFetcher:
    """Holds what outlives one fetch: the HTTP session, the breakers and the background probes."""

    def __init__(
        self,
        config: FetchConfig | None = None,
        *,
        breakers: BreakerRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.config = config or FetchConfig()
        self.breakers: BreakerRegistry = breakers if breakers is not None else LocalBreakers()
        self._clock = clock
        self._rng = rng or random.Random()
        self._retry = retry_policy(self.config)
        self._session = session
        self._owns_session = session is None
        self._background: set[asyncio.Task[bytes]] = set()

    async def __aenter__(self) -> InputFetcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Cancel background probes and close the session if this fetcher opened it."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def fetch(self, url: str, *, expected_digest: bytes | None) -> bytes:
        """The verified input at `url`; raises a `FetchError` subclass, never returns unchecked bytes."""
        if expected_digest is not None and len(expected_digest) != DIGEST_BYTES:
            raise ValueError(f"expected_digest must be the 32-byte SHA-256 of the input, got {len(expected_digest)}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.deadline_s
        try:
            async with asyncio.timeout_at(deadline):
                if url.startswith(("ipfs://", "/ipfs/")):
                    data = await self._fetch_ipfs(url, deadline)
                elif url.startswith(("http://", "https://")):
                    data = await self._fetch_http(url, deadline)
                else:
                    raise BadUrl(f"{url!r}: inputUrl must be ipfs://CID[/path] or an http(s):// URL")
        except TimeoutError as exc:
            raise Timeout(f"fetching {url} passed the overall deadline of {self.config.deadline_s:g} s") from exc
        if expected_digest is not None:
            actual = await asyncio.to_thread(input_digest, data)  # ~1 s for 100 MiB: not on the loop
            if not hmac.compare_digest(actual, expected_digest):
                raise InputDigestMismatch(
                    f"input at {url} has sha256 {actual.hex()} but the job's inputDigest is "
                    f"{expected_digest.hex()}: the job cannot be proven as posted; skip it"
                )
        return data

    async def _fetch_ipfs(self, url: str, deadline: float) -> bytes:
        path = parse_ipfs_url(url)
        if not self.config.gateways:
            raise FetchError(f"cannot fetch {url}: no IPFS gateways are configured (FetchConfig.gateways)")
        race = GatewayRace(self._http(), self.config, self.breakers, self._clock, self._background)

        async def get_block(cid: CID, limit: int, too_large: type[FetchError]) -> bytes:
            return await with_retries(
                lambda: race.block(cid, limit=limit, too_large=too_large),
                policy=self._retry,
                deadline=deadline,
                rng=self._rng,
            )

        return await UnixFsReader(get_block, self.config).read(path)

    async def _fetch_http(self, url: str, deadline: float) -> bytes:
        parts = urlsplit(url)
        if not parts.hostname:
            raise BadUrl(f"{url!r} has no host")
        origin = f"{parts.scheme}://{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        breaker = self.breakers[f"http:{origin}"]

        async def once() -> bytes:
            if not breaker.allow(self._clock()):
                raise CircuitOpen(f"the breaker for {origin} is open after repeated failures; retry later")
            return await guarded(
                breaker,
                self._clock,
                probe=is_probe(breaker),
                op=lambda: get_bounded(
                    self._http(),
                    url,
                    limit=self.config.max_bytes,
                    timeout_s=self.config.gateway_timeout_s,
                    max_redirects=self.config.max_redirects,
                ),
            )

        return await with_retries(once, policy=self._retry, deadline=deadline, rng=self._rng)


async def fetch_input(
    url: str,
    *,
    expected_digest: bytes | None,
    config: FetchConfig | None = None,
    breakers: BreakerRegistry | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """Fetch and verify one input with a fresh session; long-lived callers keep an `InputFetcher`."""
    async with InputFetcher(config, breakers=breakers, clock=clock) as fetcher:
        return await fetcher.fetch(url, expected_digest=expected_digest)
