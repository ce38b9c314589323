"""One zkray cluster offloads to another through the remote backend of the proving pool.

The "remote" is a second zkray API server in this process whose sessions run on its own Ray proving pool
(`RayProvingService` over its own `ProverService`); the local pool's remote task (a Ray task) calls it
with `BonsaiRemoteProver` built from `FrontDoorSettings`, verifies the receipt and hands it back. When the
remote is unreachable the job falls back to the local CPU backend.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from frontdoor_support import ALICE, FIB, api_config, fib_input

from zkray.api import create_app, start
from zkray.node.config import ProvingConfig
from zkray.node.frontdoors import REMOTE_KEY_ENV, FrontDoorSettings, remote_prover
from zkray.node.prover import ProverService
from zkray.node.proving import ProveRequest, ProvingPool
from zkray.node.proving.runtime import RayRuntime
from zkray.node.ray_service import RayProvingService
from zkray.policy.degradation import ProverBackend
from zkray.zkvm.receipt import Receipt

B = ProverBackend
OFFLOADING = ProvingConfig(backends=(B.REMOTE, B.CPU), max_concurrent=2, task_timeout_s=120.0, retry_initial_s=0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_remote_prover_from_settings(tmp_path: Path) -> None:
    assert remote_prover(FrontDoorSettings()) is None
    with pytest.raises(ValueError, match=REMOTE_KEY_ENV):
        remote_prover(FrontDoorSettings(remote_url="http://127.0.0.1:1"), env={})
    key_file = tmp_path / "remote.key"
    key_file.write_text(ALICE + "\n")
    prover = remote_prover(FrontDoorSettings(remote_url="http://127.0.0.1:1/", remote_key_file=key_file))
    assert prover is not None and prover.url == "http://127.0.0.1:1" and prover.api_key.get_secret_value() == ALICE
    assert ALICE not in repr(prover)
    from_env = remote_prover(FrontDoorSettings(remote_url="http://h:2"), env={REMOTE_KEY_ENV: ALICE})
    assert from_env is not None and from_env.api_key.get_secret_value() == ALICE


def test_a_cluster_offloads_to_another_zkray_cluster(ray_session: object) -> None:
    async def go() -> None:
        # cluster B: the remote, an API server whose sessions prove on its own pool
        remote_pool = ProvingPool(RayRuntime(), ProvingConfig(backends=(B.CPU,), max_concurrent=2))
        remote_prover_service = ProverService(remote_pool, None, 1000.0)
        stop_b = asyncio.Event()
        b_loop = asyncio.create_task(remote_prover_service.run(stop_b))
        service_b = RayProvingService(remote_prover_service)
        runner, url_b = await start(create_app(service_b, api_config()))
        # cluster A: its pool's first backend is cluster B
        remote = remote_prover(FrontDoorSettings(remote_url=url_b), env={REMOTE_KEY_ENV: ALICE})
        pool_a = ProvingPool(RayRuntime(), OFFLOADING, remote=remote)
        prover_a = ProverService(pool_a, None, 1000.0)
        stop_a = asyncio.Event()
        a_loop = asyncio.create_task(prover_a.run(stop_a))
        try:
            assert B.REMOTE in pool_a.runnable
            receipt = await asyncio.wait_for(
                prover_a.prove(ProveRequest("offload-1", "fib", fib_input(25)), image_id="0x" + FIB.hex(),
                               input_digest="0x01", cycles=25),
                180,
            )  # fmt: skip
            Receipt.decode(receipt).verify(FIB)
            assert service_b.proofs == 1  # cluster B made the proof
            assert remote_pool.counters["proved"] == 1 and pool_a.counters["proved"] == 1
            sessions = [await service_b.status(sid) for sid in service_b.session_ids()]
            assert [(s.owner, s.status.value) for s in sessions] == [("alice", "SUCCEEDED")]
        finally:
            stop_a.set()
            stop_b.set()
            await asyncio.gather(a_loop, b_loop)
            await service_b.close()
            await runner.cleanup()

    asyncio.run(go())


def test_an_unreachable_remote_falls_back_to_cpu(ray_session: object) -> None:
    async def go() -> None:
        dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
        remote = remote_prover(FrontDoorSettings(remote_url=dead, remote_timeout_s=20), env={REMOTE_KEY_ENV: ALICE})
        pool = ProvingPool(RayRuntime(), OFFLOADING, remote=remote)
        done = await asyncio.to_thread(pool.run, [ProveRequest("fallback-1", "fib", fib_input(9))], deadline_s=180)
        outcome = done["fallback-1"]
        assert outcome.ok and outcome.backends == (B.REMOTE, B.CPU), outcome
        Receipt.decode(outcome.receipt or b"").verify(FIB)

    asyncio.run(go())
