"""Debian's headless Chromium driven over the DevTools protocol (aiohttp websockets), for the dashboard test.

No npm and no browser download: Chromium prints its DevTools address on stderr when started with
`--remote-debugging-port=0` (an ephemeral port), and the page target is driven with plain JSON messages.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=1100,1000",
]  # fmt: skip
LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("Debian's chromium is not installed: run `bash scripts/setup.sh` as root")
    return path


class Page:
    """One page target: navigate, evaluate JavaScript, take a screenshot."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        await self._ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:  # events arrive interleaved with answers: skip them
            msg = await asyncio.wait_for(self._ws.receive(), 30)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"DevTools connection closed: {msg.type}")
            data = json.loads(msg.data)
            if data.get("id") == msg_id:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data["result"]

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page error: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode((await self.call("Page.captureScreenshot", format="png"))["data"])
        path.write_bytes(data)
        return data


class Chromium:
    """`async with Chromium(profile_dir) as browser: page = await browser.open(url)`."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self._proc: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._sockets: list[aiohttp.ClientWebSocketResponse] = []
        self._base = ""

    async def __aenter__(self) -> Chromium:
        self._proc = await asyncio.create_subprocess_exec(
            chromium_path(), *FLAGS, f"--user-data-dir={self.profile}", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self._proc.stderr is not None
        for _ in range(1000):  # bounded: Chromium prints the address within a few lines
            line = await asyncio.wait_for(self._proc.stderr.readline(), 60)
            if not line:
                raise RuntimeError(f"chromium exited before listening (rc {await self._proc.wait()})")
            found = LISTENING.search(line)
            if found:
                ws_url = found.group(1).decode()
                break
        else:
            raise RuntimeError("chromium never printed its DevTools address")
        self._base = "http://" + ws_url.split("/")[2]
        asyncio.get_running_loop().create_task(self._drain())
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def _drain(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        while await self._proc.stderr.readline():
            pass  # keep the pipe from filling up and blocking the browser

    async def open(self, url: str) -> Page:
        assert self._http is not None
        async with self._http.put(f"{self._base}/json/new?about:blank") as resp:
            target = await resp.json()
        ws = await self._http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=64 * 1024 * 1024)
        self._sockets.append(ws)
        page = Page(ws)
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        await page.call("Page.navigate", url=url)
        return page

    async def __aexit__(self, *exc: object) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._http is not None:
            await self._http.close()
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 20)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
