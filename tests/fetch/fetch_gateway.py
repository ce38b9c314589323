"""A loopback IPFS trustless gateway (raw block responses only), with ways to misbehave.

It follows the spec's block response: `GET /ipfs/{cid}` with `?format=raw` or
`Accept: application/vnd.ipld.raw` answers `200` with `Content-Type: application/vnd.ipld.raw` and the
block bytes, `404` when the block is not held, `400` when the client asked for no verifiable format.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web
from multiformats import CID

RAW = "application/vnd.ipld.raw"
MODES = (
    "good",
    "wrong",
    "slow",
    "error500",
    "rate_limited",
    "oversized",
    "truncated",
    "hang",
    "missing",
    "html",
)


@dataclass
class LoopbackGateway:
    blocks: dict[bytes, bytes]
    mode: str = "good"
    delay_s: float = 0.0
    fail_first: int = 0
    retry_after: str = "0"
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    hangups: int = 0  # clients that closed the connection while this gateway was hanging
    url: str = ""
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    async def start(self) -> LoopbackGateway:
        assert self.mode in MODES, f"unknown mode {self.mode!r}; one of {MODES}"
        app = web.Application()
        app.router.add_get("/ipfs/{cid}", self._handle)
        app.router.add_get("/file/{name}", self._handle_file)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _hang(self, request: web.Request) -> None:
        """Say nothing more until the client hangs up or the test ends (bounded: 30 s)."""
        for _ in range(3000):
            if self._closing.is_set():
                return
            if request.transport is None or request.transport.is_closing():
                self.hangups += 1
                return
            await asyncio.sleep(0.01)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            (request.match_info["cid"], request.query.get("format", ""), request.headers.get("Accept", ""))
        )
        if request.query.get("format") != "raw" and request.headers.get("Accept") != RAW:
            return web.Response(status=400, text="trustless gateway: ask for format=raw")
        block = self.blocks.get(bytes(CID.decode(request.match_info["cid"])))
        mode = self.mode
        if self.fail_first > 0:
            self.fail_first -= 1
            mode = "rate_limited"
        if mode == "missing" or block is None:
            return web.Response(status=404, text="block not found")
        if mode == "error500":
            return web.Response(status=500, text="storage backend failure")
        if mode == "rate_limited":
            return web.Response(status=429, headers={"Retry-After": self.retry_after}, text="slow down")
        if mode == "html":
            return web.Response(status=200, text="<html>deserialized</html>", content_type="text/html")
        if mode == "slow":
            await asyncio.sleep(self.delay_s)
        if mode == "wrong":
            block = bytes([block[0] ^ 1]) + block[1:]
        headers = {"Content-Type": RAW, "Content-Disposition": "attachment"}
        if mode in ("good", "slow", "wrong"):
            return web.Response(body=block, headers=headers)
        resp = web.StreamResponse(headers=headers)
        if mode == "truncated":
            resp.content_length = len(block) + 100
            await resp.prepare(request)
            await resp.write(block[: len(block) // 2])
            request.transport.close()  # type: ignore[union-attr]
            return resp
        await resp.prepare(request)
        if mode == "hang":
            await resp.write(block[:1])
            await self._hang(request)
            return resp
        assert mode == "oversized", mode
        try:
            for _ in range(1024):  # 64 MiB at most: the client must stop reading long before
                if self._closing.is_set():
                    break
                await resp.write(b"\0" * 65536)
        except ConnectionError:
            pass  # the client hung up at its cap, as it should
        return resp

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        """Plain HTTP inputs: /file/{name} serves the block stored under that name's bytes."""
        self.requests.append((request.match_info["name"], "", ""))
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503, text="try again")
        body = self.blocks.get(request.match_info["name"].encode())
        if body is None:
            return web.Response(status=404)
        if self.mode == "hang":
            await self._hang(request)
        return web.Response(body=body)
