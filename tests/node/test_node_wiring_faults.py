"""The node under faults, on real parts: a kill between proving and submitting, a job another prover
completed first, duplicate and out-of-order events, the RPC going away, lying IPFS gateways, and a prove
task that dies mid-run. Each ends with every job settled once, and paid at most once."""

from __future__ import annotations

import asyncio
import hashlib
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from wiring_support import completions, post_job, run_until, settled, start

from zkray.chain.devnet import Devnet
from zkray.chain.events import EngineEvent, EventStream
from zkray.node.pipeline import Node, job_id_of
from zkray.node.proving import Fault
from zkray.node.sources import EVENT_NAMES
from zkray.node.stages import Drills, NodeKilled
from zkray.policy.compression import decompress
from zkray.policy.jobs import JobStatus
from zkray.store import JobJournal
from zkray.zkvm.receipt import Receipt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chain"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fetch"))
from chain_proxy import TcpProxy
from fetch_blocks import raw_file
from fetch_gateway import LoopbackGateway

S = JobStatus


@pytest.fixture(scope="module")
def devnet() -> Iterator[Devnet]:
    with Devnet() as net:
        yield net


@pytest.fixture
def chain(devnet: Devnet) -> Iterator[Devnet]:
    snapshot = devnet.snapshot()
    yield devnet
    devnet.revert(snapshot)


def journal(path: Path) -> JobJournal:
    return JobJournal(path / "node.sqlite")


def test_killed_after_proving_restart_submits_exactly_once(chain: Devnet, ray_session: object, tmp_path: Path) -> None:
    async def go() -> None:
        rid = await post_job(chain, 12)
        first = await start(chain, tmp_path, drills=Drills(kill_after_proved=1))
        with pytest.raises(NodeKilled):
            await run_until(first, lambda n: False, timeout_s=90)
        assert journal(tmp_path).get(job_id_of(rid)).status is S.PROVED
        assert await completions(chain, rid) == []
        second = await start(chain, tmp_path)
        node = await run_until(second, lambda n: settled(n, [rid]), timeout_s=90)
        job = journal(tmp_path).get(job_id_of(rid))
        assert job.status is S.COMPLETED and int(job.payload["payout_wei"]) > 0
        assert len(await completions(chain, rid)) == 1
        assert node.prover.proofs == 0 and node.runner.submitter.sent == 1  # not proved again, sent once

    asyncio.run(go())


def test_job_completed_by_another_prover_is_not_submitted(chain: Devnet, ray_session: object, tmp_path: Path) -> None:
    async def go() -> None:
        rid = await post_job(chain, 14)
        other = await start(chain, tmp_path / "other", prover=1)
        await run_until(other, lambda n: settled(n, [rid]), timeout_s=90)
        ours = await start(chain, tmp_path / "ours", prover=0)
        node = await run_until(ours, lambda n: settled(n, [rid]), timeout_s=60)
        job = journal(tmp_path / "ours").get(job_id_of(rid))
        assert job.status is S.SKIPPED, (job.status, job.error)
        assert node.runner.submitter.sent == 0 and node.prover.proofs == 0
        logs = await completions(chain, rid)
        assert len(logs) == 1 and logs[0]["args"]["prover"] == chain.roles.provers[1].address

    asyncio.run(go())


def test_duplicate_and_out_of_order_events_handle_each_job_once(
    chain: Devnet, ray_session: object, tmp_path: Path
) -> None:
    async def go() -> None:
        rids = [await post_job(chain, n) for n in (9, 11)]
        built = await start(chain, tmp_path)
        node = built.node
        # Every engine event so far, collected by a second stream: delivered again, twice, and reversed.
        seen = await _history(chain, "ExecutionRequested", len(rids))
        for event in seen + seen[::-1]:
            await node.on_event(event)
        node = await run_until(built, lambda n: settled(n, rids), timeout_s=90)
        log = journal(tmp_path)
        before = len(log.events())
        for rid in rids:
            assert log.get(job_id_of(rid)).status is S.COMPLETED
            assert len(await completions(chain, rid)) == 1
            added = [e for e in log.events(job_id_of(rid)) if e.from_status is None]
            assert len(added) == 1
        # Replaying the whole history after the fact, newest first, changes nothing.
        replay = await start(chain, tmp_path)
        events = await _history(chain, "ExecutionCompleted", len(rids))
        for event in events[::-1] + events:
            await replay.node.on_event(event)
        await replay.close()
        assert len(journal(tmp_path).events()) == before
        stats = await _stats(chain)
        assert stats.claims == 2 and stats.completions == 2

    asyncio.run(go())


async def _history(devnet: Devnet, last: str, count: int) -> list[EngineEvent]:
    """The engine's events from block 0 until `count` events named `last` were seen (bounded)."""
    seen: list[EngineEvent] = []
    stop = asyncio.Event()
    stream = EventStream(devnet.rpc_url, devnet.deployment.engine, names=EVENT_NAMES, poll_s=0.1)

    async def collect() -> None:
        async for event in stream.events(stop):
            seen.append(event)
            if sum(e.name == last for e in seen) >= count:
                stop.set()

    await asyncio.wait_for(collect(), 30)
    return seen


async def _stats(devnet: Devnet):
    from wiring_support import engine_client

    w3, client = engine_client(devnet)
    stats = await client.get_prover_stats(devnet.roles.provers[0].address)
    await w3.provider.disconnect()
    return stats


def test_rpc_down_breaker_opens_node_degrades_resumes_no_job_lost(
    chain: Devnet, ray_session: object, tmp_path: Path
) -> None:
    async def go() -> None:
        port = int(chain.rpc_url.rsplit(":", 1)[1])
        proxy = await TcpProxy(port).start()
        url = f"http://127.0.0.1:{proxy.port}"
        built = await start(chain, tmp_path, rpc_url=url, ws_url=f"ws://127.0.0.1:{proxy.port}")
        node = built.node
        modes: set[str] = set()
        first = await post_job(chain, 10)
        cancel = asyncio.Event()
        runner = asyncio.create_task(node.run(cancel, drain_s=30))
        try:
            await _until(lambda: settled(node, [first]), 90)
            proxy.refusing = True
            proxy.cut()
            later = [await post_job(chain, n) for n in (13, 15)]  # posted while the node cannot see the chain
            await _until(lambda: node.breakers.state("rpc").value == "open", 60)
            await _until(lambda: _note(modes, node) and node.scheduler.snapshot()["mode"] == "minimal", 30)
            assert not node.scheduler.flags().accept_new_jobs  # a failing node takes no new work
            proxy.refusing = False
            await _until(lambda: _note(modes, node) and _completed(node, later), 120)
        finally:
            cancel.set()
            await runner
            await built.close()
            await proxy.close()
        assert "minimal" in modes
        log = journal(tmp_path)
        for rid in [first, *later]:
            assert log.get(job_id_of(rid)).status is S.COMPLETED
            assert len(await completions(chain, rid)) == 1

    asyncio.run(go())


def _completed(node: Node, request_ids: list[int]) -> bool:
    """Paid, not merely settled: a job turned away while admission was closed must come back."""
    return all((j := node.journal.find(job_id_of(r))) is not None and j.status is S.COMPLETED for r in request_ids)


def _note(modes: set[str], node: object) -> bool:
    modes.add(node.scheduler.snapshot()["mode"])  # type: ignore[attr-defined]
    return True


async def _until(condition: object, timeout_s: float) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout_s}s")


def test_lying_gateways_never_feed_corrupt_bytes_to_the_prover(
    chain: Devnet, ray_session: object, tmp_path: Path
) -> None:
    async def go() -> None:
        data = struct.pack("<I", 17)
        dag = raw_file(data)
        gateways = [await LoopbackGateway(dag.blocks, mode=m).start() for m in ("wrong", "error500", "wrong", "good")]
        bad_http = await LoopbackGateway({b"input": struct.pack("<I", 18)}).start()  # not the posted input
        try:
            good = await post_job(chain, 17, url=f"ipfs://{dag.root}")
            digest_of_16 = hashlib.sha256(struct.pack("<I", 16)).digest()
            assert digest_of_16  # the job below names fib(16)'s input, the server sends other bytes
            bad = await post_job(chain, 16, url=f"{bad_http.url}/file/input")
            fetch = {"gateways": [g.url for g in gateways], "attempts": 1, "gateway_timeout_s": 5.0}
            built = await start(chain, tmp_path, fetch=fetch)
            node = await run_until(built, lambda n: settled(n, [good, bad]), timeout_s=90)
        finally:
            for g in [*gateways, bad_http]:
                await g.stop()
        log = journal(tmp_path)
        assert log.get(job_id_of(good)).status is S.COMPLETED
        failed = log.get(job_id_of(bad))
        assert failed.status is S.FAILED and "inputDigest" in (failed.error or "")
        assert node.prover.proofs == 1  # the mismatching input was never proved
        assert len(await completions(chain, good)) == 1
        receipt = Receipt.decode(decompress(log.get_proof(job_id_of(good)) or b""))
        assert struct.unpack("<I", receipt.journal[:4])[0] == 17  # proved on the verified bytes
        assert all(g.requests for g in gateways[:2])  # the liars were asked, and lost

    asyncio.run(go())


def test_prove_task_killed_mid_run_is_retried_and_proved_once(
    chain: Devnet, ray_session: object, tmp_path: Path
) -> None:
    async def go() -> None:
        rid = await post_job(chain, 19)
        drills = Drills(prove_faults={rid: Fault("crash", str(tmp_path / "crash.marker"))})
        built = await start(chain, tmp_path / "node", drills=drills)
        node = await run_until(built, lambda n: settled(n, [rid]), timeout_s=120)
        assert (tmp_path / "crash.marker").exists()  # the worker really died once
        stats = node.prover.pool.stats()
        assert stats["crashes"] == 1 and stats["proved"] == 1 and node.prover.proofs == 1
        assert journal(tmp_path / "node").get(job_id_of(rid)).status is S.COMPLETED
        assert len(await completions(chain, rid)) == 1

    asyncio.run(go())


def test_a_lapsed_claim_of_another_prover_is_taken_over_and_paid(
    chain: Devnet, ray_session: object, tmp_path: Path
) -> None:
    async def go() -> None:
        from web3 import AsyncHTTPProvider, AsyncWeb3

        from zkray.chain.client import EngineClient
        from zkray.chain.txmanager import TxManager

        rid = await post_job(chain, 11)
        w3 = AsyncWeb3(AsyncHTTPProvider(chain.rpc_url))
        async with TxManager(w3, chain.roles.provers[1].key) as tx:  # claims, then never submits
            await EngineClient(w3, chain.deployment.engine, sender=tx).claim_execution(rid)
        await w3.provider.disconnect()
        chain.increase_time(11 * 60)  # past the 10-minute claim window
        node = await run_until(await start(chain, tmp_path), lambda n: settled(n, [rid]), timeout_s=90)
        job = journal(tmp_path).get(job_id_of(rid))
        assert job.status is S.COMPLETED, (job.status, job.error, node.tally.errors)
        (done,) = await completions(chain, rid)
        assert done["args"]["prover"] == chain.roles.provers[0].address

    asyncio.run(go())


def test_rpc_down_during_submission_then_the_reaper_submits_once(
    chain: Devnet, ray_session: object, tmp_path: Path
) -> None:
    async def go() -> None:
        port = int(chain.rpc_url.rsplit(":", 1)[1])
        proxy = await TcpProxy(port).start()
        url = f"ws://127.0.0.1:{proxy.port}"
        built = await start(chain, tmp_path, rpc_url=f"http://127.0.0.1:{proxy.port}", ws_url=url, submit_attempts=3)
        node = built.node
        rid = await post_job(chain, 100_000)  # a few seconds of proving: time to cut the RPC meanwhile
        job_id = job_id_of(rid)
        cancel = asyncio.Event()
        runner = asyncio.create_task(node.run(cancel, drain_s=30))
        try:
            await _until(lambda: (j := node.journal.find(job_id)) is not None and j.status is S.PROVING, 90)
            proxy.refusing = True
            proxy.cut()
            gave_up = lambda: any("submission:" in (e.detail or "") for e in node.journal.events(job_id))  # noqa: E731
            await _until(gave_up, 120)  # proved, then every submission try failed: back to PROVED, kept
            assert node.journal.get(job_id).status in (S.PROVED, S.SUBMITTING)
            proxy.refusing = False
            await _until(lambda: _completed(node, [rid]), 120)  # the reaper picked it up again
        finally:
            cancel.set()
            await runner
            await built.close()
            await proxy.close()
        assert len(await completions(chain, rid)) == 1
        assert node.prover.proofs == 1

    asyncio.run(go())
