"""Helpers for the node-wiring tests: a chain target from a devnet, posting jobs, running a node until a
condition holds (bounded), and reading what happened on-chain."""

from __future__ import annotations

import asyncio
import hashlib
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from web3 import AsyncHTTPProvider, AsyncWeb3

from zkray.chain.client import EngineClient
from zkray.chain.devnet import Devnet
from zkray.chain.txmanager import TxManager
from zkray.node.assemble import Built, ChainTarget, build_node
from zkray.node.inputs import data_uri
from zkray.node.pipeline import Node, job_id_of
from zkray.node.settings import NodeSettings
from zkray.node.stages import Drills
from zkray.policy.jobs import TERMINAL
from zkray.proving import guests

TIP = 10**16  # 0.01 ETH


def target_of(devnet: Devnet, prover: int = 0, rpc_url: str | None = None, ws_url: str | None = None) -> ChainTarget:
    assert devnet.roles is not None and devnet.deployment is not None
    return ChainTarget(
        rpc_url=rpc_url or devnet.rpc_url,
        ws_url=ws_url if ws_url is not None else devnet.ws_url,
        engine=devnet.deployment.engine,
        prover_key=devnet.roles.provers[prover].key,
        attester_keys=tuple(a.key for a in devnet.roles.attesters),
        verifier=devnet.deployment.verifier,
    )


def fast_settings(data_dir: Path, **overrides: Any) -> NodeSettings:
    """Short periods so faults and recoveries show within seconds."""
    base: dict[str, Any] = {
        "data_dir": data_dir, "reconcile_s": 2.0, "heartbeat_s": 0.3, "health_s": 0.2, "reaper_s": 1.0,
        "breaker_failures": 3, "breaker_open_s": 1.0, "recovery_s": 1.0, "submit_initial_s": 0.2,
        "submit_max_s": 1.0, "progress": False,
        "proving": {"max_concurrent": 2, "task_timeout_s": 60.0},
    }  # fmt: skip
    base.update(overrides)
    return NodeSettings.model_validate(base)


async def post_job(devnet: Devnet, n: int, *, requester: int = 0, tip: int = TIP, url: str | None = None) -> int:
    """Post fib(n) as a job; returns its request id."""
    assert devnet.roles is not None and devnet.deployment is not None
    data = struct.pack("<I", n)
    w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url))
    async with TxManager(w3, devnet.roles.requesters[requester].key) as tx:
        client = EngineClient(w3, devnet.deployment.engine, sender=tx)
        rid, _ = await client.request_execution(
            guests()["fib"], hashlib.sha256(data).digest(), url or data_uri(data), tip=tip,
            input_type=None if url else 1,
        )  # fmt: skip
    await w3.provider.disconnect()
    return rid


def engine_client(devnet: Devnet, key: str | None = None) -> tuple[AsyncWeb3[Any], EngineClient]:
    assert devnet.deployment is not None
    w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url))
    return w3, EngineClient(w3, devnet.deployment.engine)


async def completions(devnet: Devnet, request_id: int) -> list[Any]:
    """Every ExecutionCompleted log of a request (exactly one when paid once)."""
    _, client = engine_client(devnet)
    logs = await client.contract.events.ExecutionCompleted.get_logs(
        argument_filters={"requestId": request_id}, from_block=0
    )
    return list(logs)


def settled(node: Node, request_ids: list[int]) -> bool:
    for rid in request_ids:
        job = node.journal.find(job_id_of(rid))
        if job is None or job.status not in TERMINAL:
            return False
    return True


async def run_until(
    built: Built, done: Callable[[Node], bool], *, timeout_s: float = 120.0, drain_s: float = 30.0
) -> Node:
    """Run the node until `done(node)` (checked every 0.1 s) or `timeout_s`; then stop it (drained)."""
    cancel = asyncio.Event()
    runner = asyncio.create_task(built.node.run(cancel, drain_s=drain_s))
    end = time.monotonic() + timeout_s
    try:
        while time.monotonic() < end and not runner.done():
            if done(built.node):
                break
            await asyncio.sleep(0.1)
    finally:
        cancel.set()
        try:
            await runner
        finally:
            await built.close()
    return built.node


async def start(
    devnet: Devnet,
    data_dir: Path,
    *,
    drills: Drills | None = None,
    prover: int = 0,
    rpc_url: str | None = None,
    ws_url: str | None = None,
    **overrides: Any,
) -> Built:
    settings = fast_settings(data_dir, **overrides)
    return await build_node(settings, target_of(devnet, prover, rpc_url, ws_url), drills=drills)
