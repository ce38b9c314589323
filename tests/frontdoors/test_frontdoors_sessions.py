"""Bonsai API sessions are jobs of the node: on its scheduler's queue, in its journal, across a restart.

Over real loopback HTTP against a node built on a devnet: a session created while the node is not
dispatching waits QUEUED in the journal; a second one is interrupted mid-proof by stopping the node. A new
node on the same data directory (a new API port) finishes both: each is SUCCEEDED, its receipt verifies
and its journal row is COMPLETED. A session whose node comes back without its API ends FAILED with the
reason, never lost; a stopped session is CANCELLED in the journal, ABORTED over the API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from frontdoor_support import ALICE, FIB, api_config, fib_input, node_settings, target_of, until

from zkray.api import BonsaiClient
from zkray.chain.devnet import Devnet
from zkray.node.assemble import Built, build_node
from zkray.node.frontdoors import FrontDoors, FrontDoorSettings, start_front_doors
from zkray.node.ray_service import JOB_PREFIX
from zkray.policy.jobs import JobStatus
from zkray.store import JobJournal
from zkray.zkvm.receipt import Receipt

S = JobStatus


@pytest.fixture(scope="module")
def devnet() -> Iterator[Devnet]:
    with Devnet() as net:
        yield net


async def _open(devnet: Devnet, data_dir: Path, *, api: bool = True) -> tuple[Built, FrontDoors | None]:
    built = await build_node(node_settings(data_dir, max_jobs_in_flight=1), target_of(devnet))  # one at a time
    if not api:
        return built, None
    front = FrontDoorSettings(api_port=0, api_session_timeout_s=600.0)
    doors = await start_front_doors(front, built.node, running=lambda: True, api=api_config())
    return built, doors


def _status(data_dir: Path, session_id: str) -> JobStatus:
    with JobJournal(data_dir / "node.sqlite") as journal:
        return journal.get(JOB_PREFIX + session_id).status


def test_sessions_created_before_a_restart_complete_after_it(
    devnet: Devnet, ray_session: object, tmp_path: Path
) -> None:
    async def go() -> None:
        data_dir = tmp_path / "node"
        built, doors = await _open(devnet, data_dir)
        assert doors is not None and doors.api_url
        cancel = asyncio.Event()
        run = asyncio.create_task(built.node.run(cancel, drain_s=0.1))
        async with BonsaiClient(doors.api_url, ALICE) as c:
            big = await c.create_session(FIB.hex(), await c.upload_input(fib_input(4096 * 4)))  # seconds to prove
            proving = await until(lambda: _status(data_dir, big) is S.PROVING and built.node.prover.pool.in_flight(),
                                  timeout_s=120)  # fmt: skip
            assert proving, _status(data_dir, big)
            # one job in flight at a time: this session waits in the scheduler's queue, journaled
            queued = await c.create_session(FIB.hex(), await c.upload_input(fib_input(25)))
            assert (await c.session_status(queued)).status == "RUNNING"
            assert _status(data_dir, queued) is S.QUEUED
            stopped = await c.create_session(FIB.hex(), await c.upload_input(fib_input(26)))
            await c.stop(stopped)
        cancel.set()  # the node stops without finishing the big proof (drain 0.1 s)
        await asyncio.wait_for(run, 60)
        await doors.close()
        await built.close()
        assert _status(data_dir, big) in (S.PROVING, S.CLAIMED) and _status(data_dir, stopped) is S.CANCELLED
        assert _status(data_dir, queued) is S.QUEUED

        again, doors2 = await _open(devnet, data_dir)  # a new process would see the same: journal and files
        assert doors2 is not None and doors2.api_url and doors2.api_url != doors.api_url
        inputs = data_dir / "api"
        assert not (inputs / f"{stopped}.input").exists()  # ended while queued: swept at the start
        assert (inputs / f"{queued}.input").exists() and (inputs / f"{big}.input").exists()  # still to run
        cancel = asyncio.Event()
        run = asyncio.create_task(again.node.run(cancel, drain_s=10))
        try:
            async with BonsaiClient(doors2.api_url, ALICE) as c:
                for sid, n in ((queued, 25), (big, 4096 * 4)):
                    status = await c.wait(sid, 240)
                    assert status.status == "SUCCEEDED", (status, await c.logs(sid))
                    receipt = Receipt.decode(await c.receipt_download(sid))
                    receipt.verify(FIB)
                    assert receipt.journal.startswith(fib_input(n))
                    assert _status(data_dir, sid) is S.COMPLETED
                assert (await c.session_status(stopped)).status == "ABORTED"
                assert not list(inputs.glob("*.input"))  # finished sessions keep their receipt, not their input
                assert "→ cancelled" in await c.logs(stopped)  # ended before the restart: its log is the journal's
        finally:
            cancel.set()
            await asyncio.wait_for(run, 60)
            await doors2.close()
            await again.close()

    asyncio.run(go())


def test_a_session_whose_node_returns_without_its_api_ends_failed_with_the_reason(
    devnet: Devnet, ray_session: object, tmp_path: Path
) -> None:
    async def go() -> None:
        data_dir = tmp_path / "node"
        built, doors = await _open(devnet, data_dir)
        assert doors is not None and doors.api_url
        async with BonsaiClient(doors.api_url, ALICE) as c:
            sid = await c.create_session(FIB.hex(), await c.upload_input(fib_input(27)))
        await doors.close()
        await built.close()
        bare, _ = await _open(devnet, data_dir, api=False)  # no --api-port: nobody can finish the session
        cancel = asyncio.Event()
        run = asyncio.create_task(bare.node.run(cancel, drain_s=5))
        end = time.monotonic() + 60
        while time.monotonic() < end and _status(data_dir, sid) is not S.FAILED:
            await asyncio.sleep(0.1)
        cancel.set()
        await asyncio.wait_for(run, 60)
        await bare.close()
        with JobJournal(data_dir / "node.sqlite") as journal:
            job = journal.get(JOB_PREFIX + sid)
        assert job.status is S.FAILED and "without its API" in (job.error or "")
        back, doors3 = await _open(devnet, data_dir)  # with the API again: the client reads why
        assert doors3 is not None and doors3.api_url
        try:
            async with BonsaiClient(doors3.api_url, ALICE) as c:
                status = await c.session_status(sid)
            assert status.status == "FAILED" and "without its API" in (status.error_msg or "")
        finally:
            await doors3.close()
            await back.close()

    asyncio.run(go())
