"""Race the trustless gateways for one block: the first answer that verifies against its CID wins.

Each gateway is asked `GET {gateway}/ipfs/{cid}?format=raw` with `Accept: application/vnd.ipld.raw`
(IPFS trustless gateway spec: a raw block response, whose body MUST hash to the CID's multihash), so
no gateway is trusted: a wrong, truncated or oversized answer is just that gateway losing. Gateways
whose breaker is open are not asked. When one answer verifies, the other requests are cancelled, except
half-open probes, which finish in the background so that their breaker learns the outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from multiformats import CID

from zkray.fetch.breakers import Breaker, BreakerRegistry, guarded, is_probe
from zkray.fetch.cids import verify_block
from zkray.fetch.config import FetchConfig
from zkray.fetch.errors import (
    AllGatewaysFailed,
    CircuitOpen,
    ContentMismatch,
    FetchError,
    Timeout,
    TooLarge,
)
from zkray.fetch.http import get_bounded

RAW_BLOCK_MEDIA_TYPE = "application/vnd.ipld.raw"
OFFLOAD_HASH_BYTES = 256 * 1024
"""Blocks at least this large are hashed in a worker thread (about 2.5 ms of SHA-256 on this machine)."""


def gateway_breaker_name(gateway: str) -> str:
    """The breaker registry key for a gateway base URL."""
    return f"ipfs-gateway:{gateway}"


def combine(errors: dict[str, FetchError]) -> FetchError:
    """One error for a race every gateway lost: the common kind when they agree, else all of them."""
    kinds = {type(err) for err in errors.values()}
    if len(kinds) == 1 and (kind := kinds.pop()) in (ContentMismatch, TooLarge, Timeout):
        summary = "; ".join(f"{gw}: {err}" for gw, err in errors.items())
        return kind(f"every gateway failed the same way: {summary}")
    return AllGatewaysFailed(errors)


class GatewayRace:
    """Fetches verified blocks from the configured gateways; one instance per fetcher."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: FetchConfig,
        breakers: BreakerRegistry,
        clock: Callable[[], float],
        background: set[asyncio.Task[bytes]],
    ) -> None:
        self._session = session
        self._config = config
        self._breakers = breakers
        self._clock = clock
        self._background = background

    async def block(self, cid: CID, *, limit: int, too_large: type[FetchError] = TooLarge) -> bytes:
        """The verified bytes of `cid`, at most `limit` of them (more raises `too_large` for that gateway)."""
        pending: dict[asyncio.Task[bytes], tuple[str, bool]] = {}
        errors: dict[str, FetchError] = {}
        waiting = list(self._config.gateways)

        def start_next() -> bool:
            while waiting:
                gateway = waiting.pop(0)
                breaker = self._breakers[gateway_breaker_name(gateway)]
                if not breaker.allow(self._clock()):
                    continue
                probe = is_probe(breaker)
                attempt = self._attempt(gateway, breaker, probe, cid, limit, too_large)
                pending[asyncio.create_task(attempt)] = (gateway, probe)
                return True
            return False

        hedge = self._config.hedge_delay_s
        while start_next() and hedge == 0:
            pass
        if not pending:
            raise CircuitOpen(
                f"every gateway's breaker is open, none was asked for {cid}; "
                "they half-open again after their open period, or add gateways"
            )
        try:
            while pending:
                done, _ = await asyncio.wait(
                    pending, timeout=hedge if waiting and hedge > 0 else None, return_when="FIRST_COMPLETED"
                )
                if not done:
                    start_next()  # hedging: the leaders are slow, bring in the next gateway
                    continue
                for task in done:
                    if not task.cancelled() and task.exception() is None:
                        pending.pop(task)
                        return task.result()
                for task in done:
                    gateway, _ = pending.pop(task)
                    exc = task.exception() if not task.cancelled() else asyncio.CancelledError()
                    if not isinstance(exc, FetchError):
                        raise exc
                    errors[gateway] = exc
                    start_next()  # a failed leader makes room for the next gateway at once
            raise combine(errors)
        finally:
            await self._release(pending)

    async def _attempt(
        self, gateway: str, breaker: Breaker, probe: bool, cid: CID, limit: int, too_large: type[FetchError]
    ) -> bytes:
        async def fetch_and_verify() -> bytes:
            block = await get_bounded(
                self._session,
                f"{gateway}/ipfs/{cid}?format=raw",
                limit=limit,
                timeout_s=self._config.gateway_timeout_s,
                headers={"Accept": RAW_BLOCK_MEDIA_TYPE},
                expect_content_type=RAW_BLOCK_MEDIA_TYPE,
                too_large=too_large,
            )
            if len(block) >= OFFLOAD_HASH_BYTES:  # hashlib drops the GIL: keep the event loop free
                await asyncio.to_thread(verify_block, cid, block)
            else:
                verify_block(cid, block)
            return block

        return await guarded(breaker, self._clock, fetch_and_verify, probe=probe)

    async def _release(self, pending: dict[asyncio.Task[bytes], tuple[str, bool]]) -> None:
        """Cancel the losers and wait for them; let half-open probes run on in the background."""
        cancelled = []
        for task, (_, probe) in pending.items():
            if probe:
                self._background.add(task)
                task.add_done_callback(_forget(self._background))
            else:
                task.cancel()
                cancelled.append(task)
        if cancelled:
            await asyncio.gather(*cancelled, return_exceptions=True)


def _forget(background: set[asyncio.Task[bytes]]) -> Callable[[asyncio.Task[bytes]], None]:
    def done(task: asyncio.Task[bytes]) -> None:
        background.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so a probe's failure is not logged as "never retrieved"

    return done
