"""The embedded default end to end: `zkray serve` with no chain configured starts a devnet and a demo
requester; the node proves on Ray and is paid on-chain for every job, with no errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from zkray.chain.client import EngineClient, RequestStatus
from zkray.node.pipeline import job_id_of
from zkray.node.settings import NodeSettings
from zkray.policy.jobs import JobStatus
from zkray.serve import serve
from zkray.store import JobJournal

JOBS = 20


def test_embedded_default_completes_twenty_jobs_each_paid_on_chain(ray_session: object, tmp_path: Path) -> None:
    settings = NodeSettings.model_validate(
        {"data_dir": tmp_path, "exit_when_done": True, "progress": False, "demo": {"jobs": JOBS, "interval_s": 0.05}}
    )
    seen: dict[str, Any] = {}

    async def inspect(embedded: Any, node: Any) -> None:
        devnet = embedded.devnet
        w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url))
        engine = EngineClient(w3, devnet.deployment.engine)
        prover = devnet.roles.provers[0].address
        posted = await engine.request_count()
        seen["requests"] = [await engine.get_request(i) for i in range(1, posted + 1)]
        seen["stats"] = await engine.get_prover_stats(prover)
        logs = await engine.contract.events.ExecutionCompleted.get_logs(from_block=0)
        seen["completed"] = {int(e["args"]["requestId"]): e["args"] for e in logs}
        seen["prover"] = prover
        seen["errors"] = list(node.tally.errors)
        await w3.provider.disconnect()

    code = asyncio.run(serve(settings, timeout_s=240, install_signals=False, inspect=inspect))
    assert code == 0, seen.get("errors")
    assert len(seen["requests"]) == JOBS and not seen["errors"]
    assert all(r.status is RequestStatus.COMPLETED and r.claimant == seen["prover"] for r in seen["requests"])
    assert len(seen["completed"]) == JOBS and all(e["prover"] == seen["prover"] for e in seen["completed"].values())
    assert seen["stats"].completions == JOBS and seen["stats"].earned > 0
    journal = JobJournal(tmp_path / "node.sqlite")
    paid = [journal.get(job_id_of(r.id)) for r in seen["requests"]]
    assert all(j.status is JobStatus.COMPLETED for j in paid)
    assert sum(int(j.payload["payout_wei"]) for j in paid) == sum(int(e["payout"]) for e in seen["completed"].values())


def test_a_second_embedded_run_in_the_same_directory_starts_a_fresh_journal(
    ray_session: object, tmp_path: Path
) -> None:
    """Each embedded run has a new devnet (request ids start at 1 again): the old journal is moved aside,
    never mistaken for this chain's, and a journal of another chain is refused outright."""
    from zkray.node.assemble import ChainMismatch, claim_data_dir

    settings = NodeSettings.model_validate(
        {"data_dir": tmp_path, "exit_when_done": True, "progress": False, "demo": {"jobs": 2, "interval_s": 0.05}}
    )
    for _ in range(2):
        assert asyncio.run(serve(settings, timeout_s=120, install_signals=False)) == 0
    journal = JobJournal(tmp_path / "node.sqlite")
    assert journal.counts()[JobStatus.COMPLETED] == 2  # this run's two jobs, not the first run's
    assert len(list((tmp_path / "previous").glob("*/node.sqlite"))) == 1
    with pytest.raises(ChainMismatch):
        claim_data_dir(tmp_path, "1:0xengine:0xgenesis", fresh_on_mismatch=False)
