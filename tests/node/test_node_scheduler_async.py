"""The stages' journal changes are awaited on the scheduler actor: while a killed scheduler is restarted
by Ray, the node's event loop keeps running (other jobs, events, the health loop), and the change lands
once, after the restart (real Ray, real SQLite journal)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from actors.factory import start_job_scheduler
from actors.handles import SchedulerHandle
from actors.scheduler import JobOffer
from zkray.node.stages import scheduler_change
from zkray.policy.jobs import JobStatus as S
from zkray.store import JobJournal

pytestmark = pytest.mark.timeout(300)


def test_a_change_waits_for_a_restarting_scheduler_without_holding_the_loop(ray_session: Any, tmp_path: Path) -> None:
    ray = ray_session
    path = tmp_path / "node.sqlite"
    handle = SchedulerHandle(start_job_scheduler(path, max_restarts=-1, capacity=8))
    now = time.time()
    offer = JobOffer("job-1", "engine", "0x" + "aa" * 32, "data:,", "0x" + "bb" * 32, tip_wei=10**16,
                     requested_at=now, expires_at=now + 3600)  # fmt: skip
    handle.offer(offer)
    assert handle.next_job().id == "job-1"  # FETCHING

    actor_id = handle.actor._actor_id.hex()

    def actor_state() -> dict[str, Any]:
        return dict(ray._private.state.actors(actor_id))  # Ray's GCS actor table, what `ray list actors` reads

    pid = actor_state()["Pid"]

    async def go() -> tuple[int, Any]:
        ticks = 0
        done = asyncio.Event()

        async def loop_work() -> None:  # what the other jobs and services do meanwhile: yield, come back
            nonlocal ticks
            for _ in range(10_000_000):
                if done.is_set():
                    return
                ticks += 1
                await asyncio.sleep(0)

        ray.kill(handle.actor, no_restart=False)  # its process dies; Ray restarts it
        for _ in range(500):  # the kill is asynchronous: wait until the GCS has seen the death
            if actor_state()["NumRestarts"] >= 1 or actor_state()["State"] != "ALIVE":
                break
            await asyncio.sleep(0.02)
        ticker = asyncio.create_task(loop_work())
        record = await scheduler_change(handle, "move", "job-1", S.PREFLIGHT, expected=S.FETCHING, cycles=77)
        done.set()
        await ticker
        return ticks, record  # ticks counted only while the change was under way

    ticked, record = asyncio.run(go())
    assert record.status is S.PREFLIGHT and record.cycles == 77
    assert ticked >= 1  # the loop ran while the change waited for the actor (a blocking call: 0)
    assert actor_state()["NumRestarts"] >= 1 and actor_state()["Pid"] != pid  # it landed on the restarted actor
    with JobJournal(path) as journal:
        assert journal.get("job-1").status is S.PREFLIGHT and journal.get("job-1").attempts == 0  # landed once
    handle.close()
