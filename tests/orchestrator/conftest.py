"""Fixtures for orchestrator tests: real servers on loopback ephemeral ports, stopped after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from zkray.orchestrator import NodeKey, OrchestratorServer, ServerConfig, WorkerConfig

StartServer = Callable[..., Awaitable[OrchestratorServer]]


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """`await start_server(clock=..., port=..., **ServerConfig fields)`; every server started is stopped."""
    started: list[OrchestratorServer] = []

    async def start(*, clock: Callable[[], float] | None = None, port: int = 0, **fields: Any) -> OrchestratorServer:
        kwargs: dict[str, Any] = {"clock": clock} if clock else {}
        server = OrchestratorServer(ServerConfig(**fields), **kwargs)
        await server.start(port=port)
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


@pytest.fixture
def node_key() -> NodeKey:
    return NodeKey.generate()


@pytest.fixture
def worker_config(tmp_path: Path) -> Callable[..., WorkerConfig]:
    """Worker settings scaled down for tests (millisecond backoffs, fast stats), overridable per test."""

    def make(url: str, **overrides: Any) -> WorkerConfig:
        fields: dict[str, Any] = {
            "orchestrator_url": url,
            "node_id": "test-node",
            "key_file": tmp_path / "node_key",
            "key_env": "ZKRAY_TEST_NODE_KEY_UNSET",
            "batch_size": 4,
            "low_water_mark": 4,
            "idle_poll_s": 0.01,
            "backoff_initial_s": 0.01,
            "backoff_max_s": 0.05,
            "max_404s": 2,
            "submit_backoff_initial_s": 0.01,
            "submit_backoff_max_s": 0.05,
            "stats_interval_s": 0.2,
            "request_timeout_s": 30.0,
            "seed": 7,
        }
        fields.update(overrides)
        return WorkerConfig(**fields)

    return make
