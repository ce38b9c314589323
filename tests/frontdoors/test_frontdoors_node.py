"""The front doors of a running node (devnet, Ray, SQLite, real HTTP on loopback):

- a Bonsai client's session is proved by the node's Ray proving pool (not the in-process demo service),
  with the node's proof cache; execute-only sessions too;
- /metrics, /healthz, /readyz, / and /api/status answer from that node, chain job and API proof counted;
- the orchestrator routes on the node's status port feed a second node in pull mode, which proves on Ray.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from frontdoor_support import (
    ALICE,
    FIB,
    READ_PAGE,
    api_config,
    chromium,
    fib_input,
    get,
    metrics,
    node_settings,
    post_job,
    target_of,
    until,
)

from actors.scheduler import JobScheduler
from zkray.api import BonsaiClient, ServiceBusy, SessionRequest
from zkray.chain.devnet import Devnet
from zkray.node.assemble import build_node
from zkray.node.frontdoors import FrontDoorSettings, start_front_doors
from zkray.node.pipeline import job_id_of
from zkray.node.prover import ProverService
from zkray.node.proving import ProvingPool
from zkray.node.proving.runtime import RayRuntime
from zkray.node.pull_mode import run_pull_mode
from zkray.node.ray_service import RayProvingService, scheduler_admission
from zkray.orchestrator import NodeKey
from zkray.orchestrator.taskbook import TaskStatus
from zkray.policy.degradation import HealthSignals
from zkray.policy.jobs import JobStatus


@pytest.fixture(scope="module")
def devnet() -> Iterator[Devnet]:
    with Devnet() as net:
        yield net


def test_api_sessions_metrics_and_orchestrator_on_a_running_node(
    devnet: Devnet, ray_session: object, tmp_path: Path
) -> None:
    async def go() -> None:
        rid = await post_job(devnet, 12)
        built = await build_node(node_settings(tmp_path / "node"), target_of(devnet))
        node = built.node
        cancel = asyncio.Event()
        run = asyncio.create_task(node.run(cancel, drain_s=30))
        front = FrontDoorSettings(status_port=0, api_port=0, orchestrate=True)
        doors = await start_front_doors(front, node, running=lambda: not cancel.is_set(), api=api_config())
        assert doors.api_url and doors.status_url and doors.service is not None and doors.orchestrator is not None
        try:
            # --- Bonsai SDK sequence, proved on the node's pool ---
            started = node.prover.pool.counters["started"]
            async with BonsaiClient(doors.api_url, ALICE) as client:
                receipt = await client.prove(FIB, fib_input(30), timeout=180)  # the client verifies it too
                receipt.verify(FIB)
                assert node.prover.pool.counters["started"] > started  # a Ray prove task ran for it
                executed = await client.execute(FIB, fib_input(40), timeout=60)
                assert executed.status.status == "SUCCEEDED" and executed.journal.startswith(fib_input(40))
                assert executed.status.stats is not None and executed.status.stats.cycles == 40
                hits = node.prover.cache_hits
                again = await client.prove(FIB, fib_input(30), timeout=60)  # same program and input
                assert node.prover.cache_hits == hits + 1 and again.encode() == receipt.encode()
            assert doors.service.proofs == 2 and doors.service.cycles_proved == 60  # sessions that hold a proof

            # --- probes and metrics from the node (the chain job and the API proof) ---
            done = await until(lambda: (j := node.journal.find(job_id_of(rid))) and j.status is JobStatus.COMPLETED,
                               timeout_s=150)  # fmt: skip
            assert done, node.journal.find(job_id_of(rid))
            assert (await get(doors.status_url + "/healthz"))[0] == 200
            ready, body = await get(doors.status_url + "/readyz")
            assert ready == 200, body
            m = await metrics(doors.status_url)
            assert m[("zkray_jobs", (("state", "completed"),))] == 4  # the chain job and the 3 sessions: one journal
            assert m[("zkray_proofs_total", ())] >= 2  # the chain job's proof and the API session's
            assert m[("zkray_cycles_proved_total", ())] >= 30
            assert m[("zkray_prove_seconds_count", ())] >= 2  # one histogram for chain and API proofs
            assert m[("zkray_cache_hits_total", (("cache", "proof"),))] >= 1
            assert m[("zkray_ready", ())] == 1
            status, text = await get(doors.status_url + "/api/status")
            snap = json.loads(text)
            assert status == 200 and snap["running"] and snap["jobs"]["completed"] == 4 and snap["proofs"] >= 2
            status, page = await get(doors.status_url + "/")
            assert status == 200 and "<html" in page.lower()
            async with chromium()(tmp_path / "chromium") as browser:  # the page, live, in headless Chromium
                tab = await browser.open(doors.status_url + "/")

                async def shown() -> Any:
                    seen = await tab.evaluate(READ_PAGE)
                    return seen if seen and seen["jobs"].get("completed") == 4 and seen["chartPoints"] >= 2 else None

                seen = await until(shown, timeout_s=60, every_s=0.5)
                assert seen, await tab.evaluate(READ_PAGE)
                assert int(seen["proofs"].replace(",", "")) >= 2 and seen["nodes"].strip()  # Ray nodes listed
                png = await tab.screenshot(tmp_path / "node-dashboard.png")
            assert png.startswith(b"\x89PNG") and len(png) > 10_000
            # the two doors are apart: probes need no key, the API does
            assert (await get(doors.api_url + "/metrics"))[0] == 401
            assert (await get(doors.api_url + "/version"))[0] == 401

            # --- the node's orchestrator routes feed a second node in pull mode (proving on Ray) ---
            ids = [doors.orchestrator.add_task("fast-fib", fib_input(20 + i)) for i in range(4)]
            pull = node_settings(tmp_path / "puller")
            pull_front = FrontDoorSettings(orchestrator_url=doors.status_url, worker={
                "backoff_initial_s": 0.05, "backoff_max_s": 0.2, "max_404s": 2, "batch_size": 4, "seed": 1,
            })  # fmt: skip
            stats = await asyncio.wait_for(run_pull_mode(pull, pull_front, asyncio.Event(), key=NodeKey.generate()),
                                           180)  # fmt: skip
            assert stats.proofs_submitted == 4 and stats.gave_up, stats
            assert all(doors.orchestrator.book.get(t).status is TaskStatus.DONE for t in ids)
        finally:
            cancel.set()
            try:  # a stopping node takes no API work either
                await doors.service.submit(SessionRequest(FIB, fib_input(7), "alice"))
                refused = False
            except ServiceBusy:
                refused = True
            await asyncio.wait_for(run, 60)
            not_ready, _ = await get(doors.status_url + "/readyz")
            await doors.close()
            await built.close()
        assert not_ready == 503 and refused  # stopping: the node takes no more work

    asyncio.run(go())


def test_api_admission_follows_the_degradation_mode(ray_session: object, tmp_path: Path) -> None:
    """While the node's scheduler admits no new jobs (MINIMAL), the API answers 503 instead of queueing."""

    async def go() -> None:
        scheduler = JobScheduler(tmp_path / "node.sqlite", clock=lambda: 1000.0)
        scheduler.update_health(HealthSignals(prove_failure_rate=0.6))  # above the MINIMAL threshold
        prover = ProverService(ProvingPool(RayRuntime()), None, 1000.0)
        service = RayProvingService(prover, admission=scheduler_admission(scheduler))
        with pytest.raises(ServiceBusy, match="minimal"):
            await service.submit(SessionRequest(FIB, fib_input(5), "alice"))
        await service.close()
        scheduler.close()

    asyncio.run(go())
