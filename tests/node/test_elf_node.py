"""RV32IM ELF guests through the node: the proving pool fans a job out into one Ray task per segment and
joins them into a composite receipt (a killed segment is proved again alone); on-chain, an ELF job is
fetched, preflighted, claimed, proved in segments, attested with its ELF, submitted and paid, and a second
job for the same program finds the ELF in the program cache actor instead of the registry.

The guest is a counting loop that touches memory every iteration and exits 0 (what the RV32IM AIR proves
before ECALL read/write); its ELF is served over HTTP on a loopback port, the URL the registry names.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from wiring_support import TIP, completions, fast_settings, run_until, settled, start, target_of

from zkray.chain.client import EngineClient, RegistryClient
from zkray.chain.devnet import Devnet
from zkray.chain.txmanager import TxManager
from zkray.fetch import InputFetcher
from zkray.node.assemble import build_node
from zkray.node.config import ProvingConfig
from zkray.node.embedded import register_bundled_guests
from zkray.node.inputs import GUEST_DIR, data_uri, program_elf
from zkray.node.pipeline import job_id_of
from zkray.node.programs import DEFAULT_SEGMENT_CYCLES
from zkray.node.proving import Fault, ProveRequest, ProvingPool
from zkray.node.proving.runtime import RayRuntime
from zkray.node.requester import ELF_GUESTS, ELF_SHARE, demo_job
from zkray.node.stages import Drills, NodeKilled
from zkray.policy.jobs import JobStatus
from zkray.store import JobJournal
from zkray.zkvm.elf import PF_R, PF_W, PF_X, write_elf
from zkray.zkvm.receipt import Receipt
from zkray.zkvm.rv32im.isa import encode
from zkray.zkvm.rv32im.segment import plan_segments

pytestmark = pytest.mark.timeout(600)

SEGMENT_CYCLES = 1 << 10  # small segments, so a short run has several
CODE, DATA = 0x1_0000, 0x2_0000


def _li(rd: int, value: int) -> list[int]:
    """lui + addi loading a 32-bit value."""
    lo = value & 0xFFF
    lo = lo - 0x1000 if lo & 0x800 else lo
    hi = ((value - lo) >> 12) & 0xFFFFF
    return [encode("lui", rd=rd, imm=hi - 0x100000 if hi & 0x80000 else hi), encode("addi", rd=rd, rs1=rd, imm=lo)]


def counting_loop(iterations: int) -> bytes:
    """x1 counts to `iterations`, storing and reloading it each time (4 instructions per iteration), then
    exit(0): memory changes in every segment, so the segments' state digests really chain."""
    words = [
        *_li(31, DATA), *_li(8, iterations),
        encode("addi", rd=1, rs1=1, imm=1), encode("sw", rs1=31, rs2=1, imm=0), encode("lw", rd=2, rs1=31, imm=0),
        encode("bne", rs1=1, rs2=8, imm=-12),
        encode("addi", rd=10, rs1=0, imm=0), *_li(17, 93), encode("ecall"),
    ]  # fmt: skip
    code = b"".join(w.to_bytes(4, "little") for w in words)
    return write_elf(CODE, [(CODE, code, PF_R | PF_X), (DATA, bytes(64), PF_R | PF_W)])


def ray_tasks(ray: Any, names: set[str], timeout_s: float = 60.0) -> dict[str, set[str]]:
    """Ray's own record of the tasks that ran (its timeline, from the GCS): task name -> task ids. Task
    events reach the GCS in batches, so wait (bounded) until every name has shown up."""
    end = time.monotonic() + timeout_s
    while True:
        seen: dict[str, set[str]] = {}
        for event in ray.timeline():
            name = str(event.get("cat", "")).removeprefix("task::")
            if name in names:
                seen.setdefault(name, set()).add(event["args"]["task_id"])
        if set(seen) == names or time.monotonic() > end:
            return seen
        time.sleep(0.5)


def test_an_elf_job_runs_one_ray_task_per_segment_and_a_killed_segment_is_retried_alone(
    ray_session: Any, tmp_path: Path
) -> None:
    elf = counting_loop(600)
    plan = plan_segments(elf, b"", segment_cycles=SEGMENT_CYCLES)
    assert plan.segments >= 3 and plan.exit_code == 0
    pool = ProvingPool(RayRuntime(), ProvingConfig(max_concurrent=4, retry_initial_s=0.05, task_timeout_s=500.0))
    request = ProveRequest(
        "elf-job", ray_session.put(elf), b"", kind="elf", image_id=plan.image_id, segments=plan.segments,
        segment_cycles=SEGMENT_CYCLES, fault=Fault("crash", str(tmp_path / "crash"), segment=1),
    )  # fmt: skip
    done = pool.run([request], deadline_s=550.0)

    outcome = done["elf-job"]
    assert outcome.ok, outcome.error
    receipt = Receipt.decode(outcome.receipt)  # type: ignore[arg-type]
    receipt.verify(plan.image_id, program=elf)  # every segment's STARK and the chain from the image to the halt
    records = [r for r in pool.records if r.job_id == "elf-job"]
    by_segment = {i: [r.outcome for r in records if r.part == "segment" and r.index == i] for i in range(plan.segments)}
    assert by_segment[1][0].startswith("ProveTaskCrashed") and by_segment[1][1:] == ["ok"]  # retried, alone
    assert all(by_segment[i] == ["ok"] for i in range(plan.segments) if i != 1)
    assert [r.outcome for r in records if r.part == "compose"] == ["ok"]
    assert pool.counters["segments"] == plan.segments and pool.counters["crashes"] == 1
    assert outcome.attempts == plan.segments + 2  # every segment once, segment 1 twice, the join once

    proved = {r.name for r in records if r.outcome == "ok"}
    tasks = ray_tasks(ray_session, proved)
    assert set(tasks) == proved and all(len(ids) == 1 for ids in tasks.values())
    assert len(set().union(*tasks.values())) == plan.segments + 1  # a Ray task of its own for each segment


@pytest.fixture(scope="module")
def devnet() -> Any:
    with Devnet() as net:
        yield net


async def _serve_elf(elf: bytes) -> tuple[web.AppRunner, str]:
    """The program's ELF over HTTP on a loopback port: the URL the registry names for it."""

    async def get(_: web.Request) -> web.Response:
        return web.Response(body=elf, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/loop.elf", get)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/loop.elf"


async def _post(devnet: Devnet, image_id: bytes) -> int:
    assert devnet.roles is not None and devnet.deployment is not None
    from web3 import AsyncHTTPProvider, AsyncWeb3

    w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url))
    async with TxManager(w3, devnet.roles.requesters[0].key) as tx:
        client = EngineClient(w3, devnet.deployment.engine, sender=tx)
        rid, _ = await client.request_execution(
            image_id, hashlib.sha256(b"").digest(), data_uri(b""), tip=TIP, input_type=1
        )
    await w3.provider.disconnect()
    return rid


def test_an_elf_job_on_chain_is_proved_in_segments_attested_and_paid_and_its_program_stays_cached(
    devnet: Devnet, ray_session: Any, tmp_path: Path
) -> None:
    elf = counting_loop(600)
    plan = plan_segments(elf, b"", segment_cycles=SEGMENT_CYCLES)

    async def go() -> dict[str, Any]:
        http, url = await _serve_elf(elf)
        devnet.register_program("counting-loop.elf", plan.image_id, url)
        proving = {"max_concurrent": 4, "task_timeout_s": 500.0, "segment_cycles": SEGMENT_CYCLES}
        built = await build_node(fast_settings(tmp_path, proving=proving), target_of(devnet))
        node, cancel = built.node, asyncio.Event()
        runner = asyncio.create_task(node.run(cancel, drain_s=30.0))
        seen: dict[str, Any] = {}
        try:
            for step in ("first", "second"):  # the second job comes after the first is paid: a warm cache
                rid = await _post(devnet, plan.image_id)
                end = time.monotonic() + 500.0
                while time.monotonic() < end and not runner.done():
                    job = node.journal.find(job_id_of(rid))
                    if job is not None and job.status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.SKIPPED):
                        break
                    await asyncio.sleep(0.2)
                loads = {"fetched": node.runner.programs.fetched, "hits": node.runner.programs.hits}
                seen[step] = (rid, node.journal.find(job_id_of(rid)), loads)
                seen[f"{step}-completions"] = await completions(devnet, rid)
            seen["records"] = list(node.prover.pool.records)
            seen["cache"] = await node.runner.programs.stats()
            seen["errors"] = list(node.runner.tally.errors)
        finally:
            cancel.set()
            try:
                await runner
            finally:
                await built.close()
                await http.cleanup()
        return seen

    seen = asyncio.run(go())
    assert seen["errors"] == []
    for step in ("first", "second"):
        _, job, _ = seen[step]
        assert job.status is JobStatus.COMPLETED, (step, job.status, job.error)
        assert job.cycles == plan.cycles  # preflight's count, journaled for scoring and the deadline check
        (event,) = seen[f"{step}-completions"]  # paid exactly once, to our prover
        assert event["args"]["prover"] == devnet.roles.provers[0].address  # type: ignore[union-attr]
        assert int(job.payload["payout_wei"]) == event["args"]["payout"] > 0
    first_job = job_id_of(seen["first"][0])
    segments = sorted(r.index for r in seen["records"] if r.job_id == first_job and r.part == "segment")
    assert segments == list(range(plan.segments))  # one task per segment, each proved once
    # the ELF came from the registry's URL once; every later load (attestation, the second job) from the cache
    assert seen["first"][2]["fetched"] == 1 and seen["second"][2]["fetched"] == 1
    assert seen["second"][2]["hits"] > seen["first"][2]["hits"] and seen["cache"]["entries"] == 1


def test_the_embedded_default_registers_the_bundled_elf_guests_and_the_demo_posts_jobs_for_them(
    devnet: Devnet,
) -> None:
    registered = register_bundled_guests(devnet)
    assert set(registered) == {f"{p.stem}.elf" for p in GUEST_DIR.glob("*.elf")} and len(registered) >= 3

    async def resolve() -> dict[str, bytes]:
        from web3 import AsyncHTTPProvider, AsyncWeb3

        assert devnet.deployment is not None
        w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url))
        registry = RegistryClient(w3, devnet.deployment.registry)
        out = {}
        async with InputFetcher() as fetcher:
            for name, image_id in registered.items():
                entry = await registry.get_program(image_id)
                assert entry["active"] and entry["verifier"] == devnet.deployment.verifier
                out[name] = await program_elf(fetcher, "0x" + image_id.hex(), str(entry["elf_url"]))
        await w3.provider.disconnect()
        return out

    elfs = asyncio.run(resolve())  # what a node does on a program-cache miss: the registry's URL, image id checked
    assert all(elfs[name] == (GUEST_DIR / name).read_bytes() for name in registered)

    rng = random.Random(7)
    jobs = [demo_job(rng, 48, ELF_SHARE) for _ in range(200)]
    elf_jobs = [j for j in jobs if j.guest.endswith(".elf")]
    assert {j.guest for j in elf_jobs} == {f"{g}.elf" for g in ELF_GUESTS}
    assert 0.15 < len(elf_jobs) / len(jobs) < 0.35
    for job in elf_jobs:  # each one runs to exit 0 within two segments: cheap enough for a demo
        plan = plan_segments(elfs[job.guest], job.input, segment_cycles=DEFAULT_SEGMENT_CYCLES)
        assert plan.exit_code == 0 and plan.segments <= 2, (job.guest, plan)


def test_an_elf_job_killed_after_proving_is_attested_after_the_restart_with_its_elf_fetched_again(
    devnet: Devnet, ray_session: Any, tmp_path: Path
) -> None:
    """The node dies right after storing the composite receipt; the next node has a fresh program cache,
    so to attest it fetches the ELF from the registry's URL again, verifies, submits once, is paid once."""
    elf = counting_loop(200)  # one segment: this test is about the restart, not the fan-out
    plan = plan_segments(elf, b"", segment_cycles=DEFAULT_SEGMENT_CYCLES)
    proving = {"max_concurrent": 2, "task_timeout_s": 500.0}

    async def go() -> dict[str, Any]:
        http, url = await _serve_elf(elf)
        try:
            devnet.register_program("counting-loop-200.elf", plan.image_id, url)
            rid = await _post(devnet, plan.image_id)
            first = await start(devnet, tmp_path, drills=Drills(kill_after_proved=1), proving=proving)
            with pytest.raises(NodeKilled):
                await run_until(first, lambda n: False, timeout_s=400)
            proved = JobJournal(tmp_path / "node.sqlite").get(job_id_of(rid)).status
            unpaid = await completions(devnet, rid)
            second = await start(devnet, tmp_path, proving=proving)
            node = await run_until(second, lambda n: settled(n, [rid]), timeout_s=200)
            return {
                "proved": proved, "unpaid": unpaid, "job": JobJournal(tmp_path / "node.sqlite").get(job_id_of(rid)),
                "paid": await completions(devnet, rid), "proofs": node.prover.proofs,
                "sent": node.runner.submitter.sent, "fetched": node.runner.programs.fetched,
            }  # fmt: skip
        finally:
            await http.cleanup()

    seen = asyncio.run(go())
    assert seen["proved"] is JobStatus.PROVED and seen["unpaid"] == []
    assert seen["job"].status is JobStatus.COMPLETED, (seen["job"].status, seen["job"].error)
    assert len(seen["paid"]) == 1 and seen["proofs"] == 0 and seen["sent"] == 1  # not proved again, sent once
    assert seen["fetched"] == 1  # the restarted node fetched the ELF to verify the receipt before attesting
