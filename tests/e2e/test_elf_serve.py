"""`zkray serve` with no configuration proves RV32IM ELF guests too: the embedded devnet registers the
guests bundled in `guest/`, the demo requester posts jobs for them beside the built-in ones, and the node
fetches each ELF from the registry's URL, preflights it, proves it in segments on Ray, attests the
composite receipt with the ELF and is paid on-chain, with the journal the guest computes."""

from __future__ import annotations

import asyncio
import hashlib
import random
from pathlib import Path
from typing import Any

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from zkray.chain.client import EngineClient, RequestStatus
from zkray.node.inputs import GUEST_DIR
from zkray.node.pipeline import job_id_of
from zkray.node.programs import bundled_guests
from zkray.node.requester import ELF_SHARE, demo_job
from zkray.node.settings import NodeSettings
from zkray.policy.jobs import JobStatus
from zkray.serve import serve
from zkray.store import JobJournal
from zkray.zkvm.rv32im.segment import plan_segments

pytestmark = pytest.mark.timeout(600)

JOBS = 4
SEED = 22  # a mix with two ELF jobs, one of them two segments long (the test derives it, below)
SEGMENT_CYCLES = 1 << 13  # the node's proving setting: smaller than the default, so one job has two segments


def test_the_embedded_default_proves_elf_guest_jobs_in_segments_and_is_paid(
    ray_session: object, tmp_path: Path
) -> None:
    rng = random.Random(SEED)  # the demo requester's generator, as it starts: the same mix, in order
    mix = [demo_job(rng, 48, ELF_SHARE) for _ in range(JOBS)]
    elf_jobs = {rid: job for rid, job in enumerate(mix, start=1) if job.guest.endswith(".elf")}
    plans = {
        rid: plan_segments((GUEST_DIR / job.guest).read_bytes(), job.input, segment_cycles=SEGMENT_CYCLES)
        for rid, job in elf_jobs.items()
    }
    assert len(elf_jobs) >= 2 and max(p.segments for p in plans.values()) >= 2
    settings = NodeSettings.model_validate({
        "data_dir": tmp_path, "exit_when_done": True, "progress": False,
        "demo": {"jobs": JOBS, "interval_s": 0.05, "seed": SEED}, "proving": {"segment_cycles": SEGMENT_CYCLES},
    })  # fmt: skip
    seen: dict[str, Any] = {}

    async def inspect(embedded: Any, node: Any) -> None:
        devnet = embedded.devnet
        w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url))
        engine = EngineClient(w3, devnet.deployment.engine)
        seen["requests"] = {i: await engine.get_request(i) for i in range(1, await engine.request_count() + 1)}
        logs = await engine.contract.events.ExecutionCompleted.get_logs(from_block=0)
        seen["completed"] = {int(e["args"]["requestId"]): e["args"] for e in logs}
        seen["prover"] = devnet.roles.provers[0].address
        seen["records"] = list(node.prover.pool.records)
        seen["errors"] = list(node.tally.errors)
        await w3.provider.disconnect()

    code = asyncio.run(serve(settings, timeout_s=480, install_signals=False, inspect=inspect))
    assert code == 0, seen.get("errors")
    assert len(seen["requests"]) == JOBS and not seen["errors"]
    assert all(r.status is RequestStatus.COMPLETED and r.claimant == seen["prover"] for r in seen["requests"].values())
    journal = JobJournal(tmp_path / "node.sqlite")
    ids = {g.name: g.image_id for g in bundled_guests().values()}
    for rid, job in elf_jobs.items():
        request, paid, plan = seen["requests"][rid], seen["completed"][rid], plans[rid]
        assert request.image_id == ids[job.guest]  # posted for the bundled ELF guest, not a built-in
        assert paid["prover"] == seen["prover"] and paid["payout"] > 0
        assert bytes(paid["journalDigest"]) == hashlib.sha256(plan.journal).digest()  # what the guest computes
        record = journal.get(job_id_of(rid))
        assert record.status is JobStatus.COMPLETED and record.cycles == plan.cycles
        tasks = [r for r in seen["records"] if r.job_id == job_id_of(rid) and r.outcome == "ok"]
        assert sorted(r.index for r in tasks if r.part == "segment") == list(range(plan.segments))
        assert [r.part for r in tasks].count("compose") == 1
