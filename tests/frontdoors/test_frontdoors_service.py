"""`RayProvingService` behind the real API on loopback, proving on a real Ray pool (no chain needed):
stopping a session kills its prove task, a session past its time limit is TIMED_OUT and its task killed,
the cycle limit and uploaded ELFs behave as in the stand-alone API, and the service's figures count."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from frontdoor_support import ALICE, FIB, api_config, fib_input, until

from zkray.api import BonsaiClient, SessionFailed, create_app, start
from zkray.node.config import ProvingConfig
from zkray.node.prover import ProverService
from zkray.node.proving import ProveRequest, ProvingPool
from zkray.node.proving.runtime import RayRuntime
from zkray.node.ray_service import JOB_PREFIX, RayProvingService
from zkray.policy.degradation import ProverBackend
from zkray.zkvm.receipt import Receipt
from zkray.zkvm.rv32im import execute, image_id, load_elf

GUEST_DIR = Path(__file__).resolve().parents[2] / "guest"


@dataclass
class Cluster:
    url: str
    pool: ProvingPool
    service: RayProvingService
    prover: ProverService

    def client(self) -> BonsaiClient:
        return BonsaiClient(self.url, ALICE)


@contextlib.asynccontextmanager
async def _cluster(session_timeout_s: float = 600.0) -> AsyncIterator[Cluster]:
    pool = ProvingPool(RayRuntime(), ProvingConfig(backends=(ProverBackend.CPU,), max_concurrent=2))
    prover = ProverService(pool, None, 1000.0)
    stop = asyncio.Event()
    loop_task = asyncio.create_task(prover.run(stop))
    service = RayProvingService(prover, session_timeout_s=session_timeout_s)
    runner, url = await start(create_app(service, api_config()))
    try:
        yield Cluster(url, pool, service, prover)
    finally:
        await service.close()
        await runner.cleanup()
        stop.set()
        await loop_task


@pytest.fixture
async def cluster(ray_session: object) -> AsyncIterator[Cluster]:
    async with _cluster() as c:
        yield c


async def _proving(cluster: Cluster) -> bool:
    return bool(cluster.service.proving_now()) and cluster.pool.in_flight() > 0


async def test_stop_kills_the_sessions_prove_task(cluster: Cluster) -> None:
    async with cluster.client() as c:
        sid = await c.create_session(FIB.hex(), await c.upload_input(fib_input(4096 * 4)))  # seconds to prove
        assert await until(lambda: _proving(cluster), timeout_s=60)
        assert cluster.service.proving_now() == [JOB_PREFIX + sid]
        await c.stop(sid)
        status = await c.session_status(sid)
    assert status.status == "ABORTED"
    assert cluster.pool.pending() == 0 and cluster.service.proving_now() == []  # the Ray task was cancelled
    assert cluster.service.proofs == 0


async def test_a_session_past_its_limit_is_timed_out_and_its_task_killed(ray_session: object) -> None:
    async with _cluster(session_timeout_s=1.0) as cl:
        async with cl.client() as c:
            # 2^19 rows take tens of seconds to prove on any machine here: far past the 1 s limit
            sid = await c.create_session(FIB.hex(), await c.upload_input(fib_input((1 << 19) - 1)))
            status = await c.wait(sid, 60)
        assert status.status == "TIMED_OUT" and "1 s limit" in (status.error_msg or "")
        assert await until(lambda: cl.pool.pending() == 0, timeout_s=10)


async def test_cycle_limit_elf_upload_and_execute_only(cluster: Cluster) -> None:
    elf = (GUEST_DIR / "fib.elf").read_bytes()
    iid = image_id(load_elf(elf))
    expected = execute(elf, fib_input(10), trace=False)
    async with cluster.client() as c:
        sid = await c.create_session(FIB.hex(), await c.upload_input(fib_input(500)), exec_cycle_limit=100)
        limited = await c.wait(sid, 60)
        assert limited.status == "FAILED" and "cycle limit of 100" in (limited.error_msg or "")
        assert await c.upload_img(iid.hex(), elf) is False
        result = await c.execute(iid, fib_input(10), timeout=60)
        assert result.journal == expected.journal
        with pytest.raises(SessionFailed) as e:
            await c.prove(iid, fib_input(10), timeout=60)
        receipt = await c.prove(FIB, fib_input(50), timeout=120)
        logs = await c.logs(result.session_id)
    assert "cannot prove uploaded ELF guests yet" in (e.value.error_msg or "")
    receipt.verify(FIB)
    assert "executor:" in logs
    assert cluster.service.proofs == 1 and cluster.service.cycles_proved == 50
    assert cluster.pool.counters["proved"] == 1  # only the proving session reached the pool


def _chain_job(cluster: Cluster, job_id: str, data: bytes) -> asyncio.Task[bytes]:
    """A chain job's wait for the proof of fib on `data`, as `JobRunner.prove_and_submit` asks for it."""
    request = ProveRequest(job_id, "fib", data, kind="builtin", image_id=FIB)
    digest = "0x" + hashlib.sha256(data).hexdigest()
    return asyncio.create_task(cluster.prover.prove(request, image_id="0x" + FIB.hex(), input_digest=digest, cycles=1))


async def test_stopping_a_session_leaves_a_chain_job_waiting_on_the_same_proof(cluster: Cluster) -> None:
    data = fib_input(4096 * 4)  # seconds to prove: the stop lands while the one shared task runs
    async with cluster.client() as c:
        sid = await c.create_session(FIB.hex(), await c.upload_input(data))
        assert await until(lambda: _proving(cluster), timeout_s=60)
        chain_job = _chain_job(cluster, "engine:7", data)  # the same statement: it joins the session's proof
        assert await until(lambda: sorted(cluster.prover.waiters("engine:7")) == [JOB_PREFIX + sid, "engine:7"],
                           timeout_s=10)  # fmt: skip
        await c.stop(sid)
        assert (await c.session_status(sid)).status == "ABORTED"
        assert cluster.pool.pending() == 1  # the session left; its task goes on for the chain job
        receipt = await asyncio.wait_for(chain_job, 120)
    Receipt.decode(receipt).verify(FIB)
    assert cluster.pool.counters["proved"] == 1 and cluster.prover.proofs == 1  # proved once, for both
    assert cluster.pool.pending() == 0 and cluster.service.proofs == 0


async def test_the_shared_task_is_killed_when_its_last_waiter_leaves(cluster: Cluster) -> None:
    data = fib_input(4096 * 4 + 1)
    async with cluster.client() as c:
        sid = await c.create_session(FIB.hex(), await c.upload_input(data))
        assert await until(lambda: _proving(cluster), timeout_s=60)
        chain_job = _chain_job(cluster, "engine:8", data)
        assert await until(lambda: len(cluster.prover.waiters("engine:8")) == 2, timeout_s=10)
        cluster.prover.cancel("engine:8")  # the chain job goes first (cancelled on-chain): the session still waits
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(chain_job, 10)
        assert cluster.pool.pending() == 1 and cluster.service.proving_now() == [JOB_PREFIX + sid]
        await c.stop(sid)  # the last waiter: now the task is killed
        assert (await c.session_status(sid)).status == "ABORTED"
    assert await until(lambda: cluster.pool.pending() == 0 and cluster.pool.in_flight() == 0, timeout_s=10)
    assert cluster.pool.counters["proved"] == 0 and cluster.prover.proofs == 0
