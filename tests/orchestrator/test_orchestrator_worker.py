"""A pull worker against a real orchestrator on loopback, proving with zkray's real prover."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

from orchestrator_support import fib_initial_inputs, fib_inputs

from zkray.orchestrator import PullWorker, prove_task
from zkray.orchestrator.taskbook import TaskStatus

RUN_LIMIT_S = 120.0  # a hung worker fails the test instead of hanging the suite


async def run(worker: PullWorker, cancel: asyncio.Event | None = None):
    return await asyncio.wait_for(worker.run(cancel or asyncio.Event()), RUN_LIMIT_S)


async def until(predicate, what: str, limit_s: float = RUN_LIMIT_S) -> None:
    """Poll `predicate` every 20 ms, at most `limit_s`."""
    for _ in range(int(limit_s / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_fifty_tasks_fetched_in_batches_proved_signed_and_accepted(start_server, worker_config):
    server = await start_server(poll_rate=1000.0, poll_burst=1000.0)
    for n in range(25):
        server.add_task("fast-fib", fib_inputs(n + 1))
        server.add_task("fib_input_initial", fib_initial_inputs(n + 2, n, n + 1))
    worker = PullWorker(worker_config(server.url, batch_size=7, low_water_mark=5, provers=2))
    stats = await run(worker)
    assert server.counts()[TaskStatus.DONE] == 50
    assert server.counters["accepted"] == 50 and server.counters["served"] == 50
    assert not [k for k in server.counters if k.startswith("rejected")]
    assert (stats.tasks_fetched, stats.proofs_generated, stats.proofs_submitted) == (50, 50, 50)
    assert stats.gave_up and stats.no_tasks == 2
    served = [r for r in server.requests if r.route == "tasks" and r.status == 200]
    assert len(served) >= 8  # 50 tasks in batches of at most 7
    keys = {rec.done_by for rec in (server.book.get(f"t-{i:06d}") for i in range(1, 51))}
    assert keys == {"test-node"}
    assert server.node_reports["test-node"].proofs_submitted == 50  # the final report
    assert server.counters["stats_reports"] >= 2 and stats.stats_reports == server.counters["stats_reports"]


async def test_429_retry_after_is_honoured(start_server, worker_config):
    server = await start_server(poll_rate=1.0, poll_burst=1.0)  # one request per second per node
    for n in range(6):
        server.add_task("fast-fib", fib_inputs(n + 3))
    worker = PullWorker(worker_config(server.url, batch_size=2, low_water_mark=2, max_404s=1))
    stats = await run(worker)
    assert server.counters["accepted"] == 6
    assert stats.rate_limited >= 1 and stats.rate_limited == server.counters["rate_limited"]
    polls = [r for r in server.requests if r.route == "tasks"]
    for before, after in itertools.pairwise(polls):
        if before.status == 429:
            assert after.status != 429, "polled again before Retry-After elapsed"
            assert after.at - before.at >= 0.99  # Retry-After: 1


async def test_repeated_404s_make_the_worker_stop(start_server, worker_config):
    server = await start_server(poll_rate=1000.0, poll_burst=1000.0)
    stats = await run(PullWorker(worker_config(server.url, max_404s=3)))
    assert stats.gave_up
    assert [r.status for r in server.requests if r.route == "tasks"] == [404, 404, 404]


async def test_a_task_served_twice_is_proven_and_submitted_once(start_server, worker_config):
    # lease 0: every poll re-serves the tasks still unsubmitted, as after a lost response.
    server = await start_server(lease_s=0.0, poll_rate=1000.0, poll_burst=1000.0)
    for n in range(3):
        server.add_task("fast-fib", fib_inputs(n + 4))
    gate = asyncio.Event()
    proved: Counter[bytes] = Counter()

    async def gated_prove(program_id: str, inputs: bytes) -> bytes:
        await gate.wait()  # hold every proof until some task has been served twice
        proved[inputs] += 1
        return await asyncio.to_thread(prove_task, program_id, inputs)

    worker = PullWorker(worker_config(server.url, batch_size=3, low_water_mark=100, max_404s=2), prove_fn=gated_prove)
    running = asyncio.create_task(run(worker))
    await until(lambda: any(server.book.get(f"t-00000{i}").times_served >= 2 for i in (1, 2, 3)), "a re-serve")
    gate.set()
    stats = await running
    assert stats.duplicates_skipped >= 1
    assert sorted(proved.values()) == [1, 1, 1]
    assert server.counters["accepted"] == 3 and server.counters["rejected_duplicate"] == 0


async def test_wrong_proofs_are_rejected_once_and_failures_do_not_stop_the_worker(start_server, worker_config):
    server = await start_server(poll_rate=1000.0, poll_burst=1000.0)
    for n in range(4):
        server.add_task("fast-fib", fib_inputs(n + 5))

    def sloppy_prove(program_id: str, inputs: bytes) -> bytes:
        if inputs == fib_inputs(5):
            raise RuntimeError("prover crashed")
        if inputs == fib_inputs(6):
            return prove_task(program_id, fib_inputs(7))  # a valid receipt, for other inputs
        return prove_task(program_id, inputs)

    stats = await run(PullWorker(worker_config(server.url), prove_fn=sloppy_prove))
    assert (stats.proofs_failed, stats.submissions_rejected, stats.proofs_submitted) == (1, 1, 2)
    assert server.counters["rejected_bad_proof"] == 1  # a 422 is final: never retried
    assert server.counters["accepted"] == 2


async def test_the_worker_survives_the_orchestrator_restarting(start_server, worker_config):
    first = await start_server(poll_rate=1000.0, poll_burst=1000.0)
    port = int(first.url.rsplit(":", 1)[1])
    for n in range(3):
        first.add_task("fast-fib", fib_inputs(n + 8))
    cancel = asyncio.Event()
    worker = PullWorker(worker_config(first.url, max_404s=10_000))
    running = asyncio.create_task(run(worker, cancel))
    await until(lambda: first.counters["accepted"] == 3, "the first orchestrator's tasks")
    await first.stop()
    await until(lambda: worker.stats.fetch_errors >= 2, "fetches to fail while the orchestrator is down")
    second = await start_server(port=port, poll_rate=1000.0, poll_burst=1000.0)
    for n in range(3):
        second.add_task("fast-fib", fib_inputs(n + 11), task_id=f"restart-{n}")
    await until(lambda: second.counters["accepted"] == 3, "the restarted orchestrator's tasks")
    cancel.set()
    stats = await running
    assert stats.proofs_submitted == 6 and not stats.gave_up


async def test_a_submission_that_finds_the_orchestrator_down_is_retried(start_server, worker_config):
    server = await start_server(poll_rate=1000.0, poll_burst=1000.0)
    port = int(server.url.rsplit(":", 1)[1])
    server.add_task("fast-fib", fib_inputs(14))
    gate = asyncio.Event()

    async def gated_prove(program_id: str, inputs: bytes) -> bytes:
        await gate.wait()
        return await asyncio.to_thread(prove_task, program_id, inputs)

    worker = PullWorker(worker_config(server.url, max_404s=10_000), prove_fn=gated_prove)
    cancel = asyncio.Event()
    running = asyncio.create_task(run(worker, cancel))
    await until(lambda: worker.stats.tasks_fetched == 1, "the task to be fetched")
    await server.stop()  # the same server object keeps its ledger across the restart
    gate.set()
    await until(lambda: worker.stats.submission_retries >= 1, "a failed submission")
    await server.start(port=port)
    await until(lambda: server.counters["accepted"] == 1, "the retried submission")
    cancel.set()
    stats = await running
    assert stats.proofs_submitted == 1 and stats.submissions_abandoned == 0
