"""The node's main job, end to end on real parts: anvil, Ray, the STARK prover, SQLite.

Jobs are posted on the devnet; the node sees the events, claims, proves on Ray, attests and submits,
and is paid on-chain. Restarts and races are driven through the same journal and chain.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from wiring_support import completions, post_job, run_until, settled, start

from zkray import guests
from zkray.chain.devnet import Devnet
from zkray.node.estimates import CycleEstimates
from zkray.node.pipeline import job_id_of
from zkray.policy.jobs import JobStatus
from zkray.store import JobJournal


@pytest.fixture(scope="module")
def devnet() -> Iterator[Devnet]:
    with Devnet() as net:
        yield net


def test_jobs_are_claimed_proved_submitted_and_paid(devnet: Devnet, ray_session: object, tmp_path: Path) -> None:
    async def go() -> None:
        rids = [await post_job(devnet, n) for n in (10, 20, 30)]
        built = await start(devnet, tmp_path)
        node = await run_until(built, lambda nd: settled(nd, rids), timeout_s=120)
        journal = JobJournal(tmp_path / "node.sqlite")
        for rid in rids:
            job = journal.get(job_id_of(rid))
            assert job.status is JobStatus.COMPLETED, (job.status, job.error, node.tally.errors)
            assert int(job.payload["payout_wei"]) > 0
            logs = await completions(devnet, rid)
            assert len(logs) == 1 and logs[0]["args"]["prover"] == devnet.roles.provers[0].address
        assert node.tally.paid == 3 and not node.tally.errors
        # preflight's cycles are kept per run and per program: the next such offer is scored with them
        estimates = CycleEstimates(journal)
        fib = "0x" + guests()["fib"].hex()
        for n in (10, 20, 30):
            assert estimates.estimate(fib, hashlib.sha256(struct.pack("<I", n)).hexdigest()) == n
        assert 10 <= (estimates.estimate(fib, "00" * 32) or 0) <= 30  # a new input: the program's average

    asyncio.run(go())


def test_the_same_program_on_the_same_input_is_proved_once(devnet: Devnet, ray_session: object, tmp_path: Path) -> None:
    async def go() -> None:
        rids = [await post_job(devnet, 23) for _ in range(3)]  # three jobs, one statement
        built = await start(devnet, tmp_path)
        node = await run_until(built, lambda nd: settled(nd, rids), timeout_s=120)
        journal = JobJournal(tmp_path / "node.sqlite")
        assert all(journal.get(job_id_of(r)).status is JobStatus.COMPLETED for r in rids)
        assert node.prover.proofs == 1 and node.prover.cache_hits == 2
        assert node.prover.pool.stats()["started"] == 1  # one Ray task for the three
        for rid in rids:
            assert len(await completions(devnet, rid)) == 1

    asyncio.run(go())
