"""Helpers of the front-door tests: API keys, a node built on a devnet, plain HTTP reads, bounded waits."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from web3 import AsyncHTTPProvider, AsyncWeb3

from zkray.api import ApiConfig
from zkray.chain.client import EngineClient
from zkray.chain.devnet import Devnet
from zkray.chain.txmanager import TxManager
from zkray.node.assemble import ChainTarget
from zkray.node.inputs import data_uri
from zkray.node.settings import NodeSettings
from zkray.proving import guests

ALICE = "alice-frontdoor-key-0123456789"
FIB = guests()["fib"]


def fib_input(n: int) -> bytes:
    return struct.pack("<I", n)


def api_config() -> ApiConfig:
    return ApiConfig.parse({"keys": [{"name": "alice", "key": ALICE, "rate_per_s": 1000, "burst": 1000}]})


def node_settings(data_dir: Path, **overrides: Any) -> NodeSettings:
    """Short periods, two prove slots, no live table."""
    base: dict[str, Any] = {
        "data_dir": data_dir, "reconcile_s": 2.0, "heartbeat_s": 0.3, "health_s": 0.2, "reaper_s": 1.0,
        "recovery_s": 1.0, "submit_initial_s": 0.2, "submit_max_s": 1.0, "progress": False,
        "proving": {"max_concurrent": 2, "task_timeout_s": 120.0},
    }  # fmt: skip
    base.update(overrides)
    return NodeSettings.model_validate(base)


def target_of(devnet: Devnet) -> ChainTarget:
    assert devnet.roles is not None and devnet.deployment is not None
    return ChainTarget(
        rpc_url=devnet.rpc_url, ws_url=devnet.ws_url, engine=devnet.deployment.engine,
        prover_key=devnet.roles.provers[0].key, attester_keys=tuple(a.key for a in devnet.roles.attesters),
        verifier=devnet.deployment.verifier,
    )  # fmt: skip


async def post_job(devnet: Devnet, n: int) -> int:
    """Post fib(n) on-chain (tip 0.01 ETH); returns the request id."""
    assert devnet.roles is not None and devnet.deployment is not None
    data = fib_input(n)
    w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url))
    async with TxManager(w3, devnet.roles.requesters[0].key) as tx:
        client = EngineClient(w3, devnet.deployment.engine, sender=tx)
        rid, _ = await client.request_execution(FIB, hashlib.sha256(data).digest(), data_uri(data), tip=10**16,
                                                input_type=1)  # fmt: skip
    await w3.provider.disconnect()
    return int(rid)


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers or {}) as resp:
        return resp.status, await resp.text()


async def metrics(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The scrape parsed: (sample name, sorted labels) -> value."""
    status, text = await get(base_url + "/metrics")
    assert status == 200, text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def chromium() -> Any:
    """The observability tests' DevTools driver for Debian's headless Chromium (one copy, in tests/observe)."""
    path = Path(__file__).resolve().parents[1] / "observe" / "chromium_cdp.py"
    spec = importlib.util.spec_from_file_location("chromium_cdp", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Chromium


READ_PAGE = """(() => {
  if (!document.getElementById('chart')) return null;
  const jobs = {};
  for (const td of document.querySelectorAll('#jobs td[data-state]')) jobs[td.dataset.state] = Number(td.textContent);
  return {jobs, proofs: document.getElementById('proofs').textContent,
          nodes: document.querySelector('#nodes tbody').innerText,
          chartPoints: Number(document.getElementById('chart').dataset.points || 0)};
})()"""


async def until(condition: Callable[[], Any], *, timeout_s: float, every_s: float = 0.1) -> Any:
    """Poll `condition` (sync or async) until it is truthy; bounded, returns its last value."""
    end = time.monotonic() + timeout_s
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() >= end:
            return value
        await asyncio.sleep(every_s)
