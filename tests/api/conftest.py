"""Fixtures for the Bonsai API: a real in-process proving service and the real server on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from api_support import Api, config

from zkray.api import ApiConfig, LocalProvingService, ProvingService, create_app, start

Serve = Callable[..., Awaitable[Api]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start servers (each with its own LocalProvingService unless one is given); all stopped at the end."""
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def _serve(cfg: ApiConfig | None = None, service: ProvingService | None = None, **svc_kw: Any) -> Api:
        cfg = cfg or config()
        if service is None:
            local = LocalProvingService(**svc_kw)
            cleanups.append(local.close)
            service = local
        runner, url = await start(create_app(service, cfg))
        cleanups.append(runner.cleanup)
        return Api(url, service, cfg)

    yield _serve
    for cleanup in reversed(cleanups):
        await cleanup()


@pytest.fixture
async def api(serve: Serve) -> Api:
    return await serve()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP session for requests the Bonsai client would never send."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session
