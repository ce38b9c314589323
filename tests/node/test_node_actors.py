"""The running node's stateful parts are Ray actors: the scheduler, the breakers, the proof cache and the
nonce manager (seen in Ray's GCS actor table, the one `ray list actors` reads). The proof cache keeps its
bytes in the object store, owned by the cache actor, and survives the node on disk; claims and
submissions use one nonce sequence (the nonce-manager actor's). Chaos: the scheduler actor killed mid-run
is restarted by Ray, rebuilds its queue from the journal, and every job is paid exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
import ray._private.state as ray_state
from wiring_support import completions, engine_client, post_job, settled, start

from actors.handles import BreakersHandle, ProofCacheHandle, SchedulerHandle
from actors.nonce_manager import ActorSender
from zkray.chain.devnet import Devnet
from zkray.node.node_actors import actor_of
from zkray.node.pipeline import Node, job_id_of
from zkray.policy.compression import decompress
from zkray.policy.jobs import JobStatus
from zkray.proving import guests
from zkray.store import JobJournal
from zkray.zkvm.receipt import Receipt

S = JobStatus
CLASSES = {"scheduler": "JobScheduler", "breakers": "CircuitBreakers", "proof-cache": "ProofCache",
           "nonce": "NonceManager"}  # fmt: skip


@pytest.fixture(scope="module")
def devnet() -> Iterator[Devnet]:
    with Devnet() as net:
        yield net


def _actors_by_name() -> dict[str, dict[str, Any]]:
    """Ray's actor table (GCS): the newest entry per name."""
    table: dict[str, dict[str, Any]] = {}
    for entry in sorted(ray_state.actors().values(), key=lambda e: e.get("StartTime", 0)):
        if entry.get("Name"):
            table[entry["Name"]] = entry
    return table


async def _until(condition: Callable[[], bool], timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout_s} s")


async def _txs(devnet: Devnet) -> tuple[int, int, int]:
    """The prover account's nonce on-chain, and the engine's count of its claims and completions."""
    assert devnet.roles is not None
    w3, client = engine_client(devnet)
    address = devnet.roles.provers[0].address
    nonce = await w3.eth.get_transaction_count(address)
    stats = await client.get_prover_stats(address)
    await w3.provider.disconnect()
    return nonce, stats.claims, stats.completions


def _statuses(node: Node, rids: list[int]) -> list[JobStatus]:
    return [job.status for r in rids if (job := node.journal.find(job_id_of(r))) is not None]


def test_the_running_nodes_parts_are_actors_and_the_proof_cache_outlives_it(
    devnet: Devnet, ray_session: object, tmp_path: Path
) -> None:
    async def go() -> None:
        before = await _txs(devnet)
        rids = [await post_job(devnet, n) for n in (12, 14)]
        built = await start(devnet, tmp_path)
        node = built.node
        assert isinstance(node.scheduler, SchedulerHandle) and isinstance(node.breakers, BreakersHandle)
        assert isinstance(node.prover.cache, ProofCacheHandle) and isinstance(built.tx, ActorSender)
        cancel = asyncio.Event()
        runner = asyncio.create_task(node.run(cancel, drain_s=30))
        try:
            await _until(lambda: settled(node, rids), 120)
            table = _actors_by_name()
            for kind, cls in CLASSES.items():  # while the node runs: each part is a live actor of its own
                entry = table[built.actors.names[kind]]
                assert entry["ActorClassName"] == cls and entry["State"] == "ALIVE", entry
                assert entry["Pid"] != os.getpid()
            # the node's decisions went through the scheduler actor: it has the two jobs completed
            snap = ray.get(actor_of(node.scheduler).snapshot.remote(), timeout=30)
            assert snap["counts"]["completed"] == 2
            assert ray.get(actor_of(node.breakers).state.remote("rpc"), timeout=30).value == "closed"
            # the receipt's bytes are in the object store, the ref held by the cache actor
            image_id, digest = "0x" + guests()["fib"].hex(), "0x" + hashlib.sha256(struct.pack("<I", 12)).hexdigest()
            blob = ray.get(actor_of(node.prover.cache).get.remote(image_id, digest), timeout=30)
            assert isinstance(blob.handle, ray.ObjectRef)
            Receipt.decode(decompress(ray.get(blob.handle, timeout=30))).verify(guests()["fib"])
        finally:
            cancel.set()
            await runner
            await built.close()
        journal = JobJournal(tmp_path / "node.sqlite")
        for rid in rids:
            assert journal.get(job_id_of(rid)).status is S.COMPLETED
            assert len(await completions(devnet, rid)) == 1
        # one nonce sequence: every transaction of the prover account is one claim or one submission
        after = await _txs(devnet)
        assert after[1] - before[1] == 2 and after[2] - before[2] == 2
        assert after[0] - before[0] == 4
        # the proof cache outlives the node (disk tier): a new node on the same directory has the receipt
        again = await start(devnet, tmp_path)
        try:
            assert await again.node.prover.cache.contains(image_id, digest)
            hit = await again.node.prover.cache.get(image_id, digest)
            assert hit is not None and hit.tier == "disk"
        finally:
            await again.close()

    asyncio.run(go())


def test_the_scheduler_actor_killed_mid_run_is_restarted_and_every_job_is_paid_once(
    devnet: Devnet, ray_session: object, tmp_path: Path
) -> None:
    async def go() -> None:
        before = await _txs(devnet)
        rids = [await post_job(devnet, n) for n in (9, 10, 11, 13, 15, 16)]
        built = await start(devnet, tmp_path, max_jobs_in_flight=1)  # one at a time: the rest wait queued
        node = built.node
        name = built.actors.names["scheduler"]
        cancel = asyncio.Event()
        runner = asyncio.create_task(node.run(cancel, drain_s=30))
        try:
            # a job paid, and at least two still waiting in the queue: the kill takes the queue with it
            await _until(lambda: S.COMPLETED in _statuses(node, rids) and _statuses(node, rids).count(S.QUEUED) >= 2,
                         120)  # fmt: skip
            first = _actors_by_name()[name]
            ray.kill(actor_of(node.scheduler), no_restart=False)  # its process dies; Ray restarts it
            await _until(lambda: settled(node, rids), 240)
            restarted = _actors_by_name()[name]
        finally:
            cancel.set()
            await runner
            await built.close()
        assert restarted["NumRestarts"] >= 1 and restarted["Pid"] != first["Pid"]
        journal = JobJournal(tmp_path / "node.sqlite")
        for rid in rids:
            job = journal.get(job_id_of(rid))
            assert job.status is S.COMPLETED, (job.status, job.error)
            assert len(await completions(devnet, rid)) == 1  # paid once
        assert not node.tally.errors
        after = await _txs(devnet)
        assert after[1] - before[1] == len(rids) and after[2] - before[2] == len(rids)  # one claim, one submission
        assert after[0] - before[0] == 2 * len(rids)

    asyncio.run(go())
