"""Helpers shared by the fetch tests (kept out of conftest.py so test modules can import them by name)."""

from __future__ import annotations

from fetch_gateway import LoopbackGateway

from zkray.fetch import FetchConfig


class FakeClock:
    """The breakers' clock; tests move it by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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
