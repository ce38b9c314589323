"""Pull mode: a node fetches tasks from a loopback orchestrator, proves them as Ray tasks through its
proving pool, signs and submits them; the orchestrator verifies every receipt. Its status port shows the
work while it runs. The orchestrator rate-limits polling (429 + Retry-After), which the worker honours."""

from __future__ import annotations

import asyncio
from pathlib import Path

from frontdoor_support import fib_input, get, metrics, node_settings, until

from zkray.node.frontdoors import FrontDoorSettings
from zkray.node.pull_mode import PullMode
from zkray.orchestrator import NodeKey, OrchestratorServer, ServerConfig
from zkray.orchestrator.taskbook import TaskStatus

TASKS = 12


def test_pull_mode_proves_orchestrator_tasks_on_ray(ray_session: object, tmp_path: Path) -> None:
    async def go() -> None:
        server = OrchestratorServer(ServerConfig(poll_rate=1.0, poll_burst=1.0, max_batch=6))
        ids = [server.add_task("fast-fib", fib_input(10 + i)) for i in range(TASKS - 1)]
        ids.append(server.add_task("fast-fib", fib_input(10)))  # same input as the first: the proof cache answers
        url = await server.start("127.0.0.1", 0)
        front = FrontDoorSettings(status_port=0, orchestrator_url=url, worker={
            "backoff_initial_s": 0.05, "backoff_max_s": 0.5, "max_404s": 2, "batch_size": 6, "seed": 3,
        })  # fmt: skip
        mode = PullMode(node_settings(tmp_path), front, key=NodeKey.generate())
        try:
            await mode.start()
            assert mode.status_url is not None
            work = asyncio.create_task(mode.run(asyncio.Event()))
            assert await until(lambda: mode.proving.proofs >= 2, timeout_s=120)
            ready, _ = await get(mode.status_url + "/readyz")
            live = await metrics(mode.status_url)
            stats = await asyncio.wait_for(work, 240)
            after = await metrics(mode.status_url)
        finally:
            await mode.close()
            await server.stop()
        assert stats.proofs_submitted == TASKS and stats.gave_up and stats.submissions_rejected == 0, stats
        assert stats.rate_limited >= 1  # the orchestrator's 429s were honoured, not fatal
        assert all(server.book.get(t).status is TaskStatus.DONE for t in ids)  # every receipt verified there
        assert mode.pool.counters["proved"] == TASKS - 1  # proved as Ray tasks; the repeat came from the cache
        assert mode.prover.cache_hits == 1
        assert ready == 200 and live[("zkray_proofs_total", ())] >= 2
        assert after[("zkray_proofs_total", ())] == TASKS and after[("zkray_prove_seconds_count", ())] == TASKS - 1

    asyncio.run(go())
