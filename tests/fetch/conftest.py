"""Fixtures for the fetch tests: loopback trustless gateways (stopped after each test) and a clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from fetch_gateway import LoopbackGateway
from fetch_support import FakeClock

StartGateway = Callable[..., Awaitable[LoopbackGateway]]


@pytest.fixture
async def start_gateway() -> AsyncIterator[StartGateway]:
    started: list[LoopbackGateway] = []

    async def start(blocks: dict[bytes, bytes], mode: str = "good", **kwargs: object) -> LoopbackGateway:
        gateway = await LoopbackGateway(dict(blocks), mode, **kwargs).start()  # type: ignore[arg-type]
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
