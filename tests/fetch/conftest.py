"""Fixtures for the fetch tests: loopback trustless gateways, a hand-driven clock, a fetcher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from fetch_gateway import LoopbackGateway

from zkray.fetch import FetchConfig

StartGateway = Callable[..., Awaitable[LoopbackGateway]]


class FakeClock:
    """The breakers' clock; tests move it by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


def config(*gateways: LoopbackGateway, **overrides: object) -> FetchConfig:
    """Small bounds so misbehaving gateways cost milliseconds, not the production 30 s."""
    settings: dict[str, object] = {
        "gateways": tuple(g.url for g in gateways) or ("http://127.0.0.1:9",),
        "gateway_timeout_s": 0.5,
        "deadline_s": 20.0,
        "attempts": 1,
        "backoff_initial_s": 0.01,
        "max_bytes": 1 << 20,
    }
    settings.update(overrides)
    return FetchConfig(**settings)  # type: ignore[arg-type]
