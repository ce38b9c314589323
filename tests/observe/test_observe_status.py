"""The snapshot: durable facts from a real journal, live facts from the node's callback, exact rates."""

from __future__ import annotations

import asyncio

from observe_support import Clock, add, walk

from actors.breakers import CircuitBreakers
from zkray.observe import JournalStatusSource, LiveStats, NodeStatus, NodeStatusSource, ThroughputHistory
from zkray.observe.status import breaker_states, cache_stats, prove_times
from zkray.policy.degradation import Mode
from zkray.policy.jobs import JobStatus as S
from zkray.store.journal import JobJournal


async def test_counts_proofs_cycles_and_earnings_follow_the_journal(journal: JobJournal, source: JournalStatusSource):
    assert isinstance(source, NodeStatusSource)
    empty = await source.status()
    assert empty.proofs == 0 and empty.earned_wei == 0 and sum(empty.jobs.values()) == 0
    assert set(empty.jobs) == {s.value for s in S}

    for i in range(4):
        add(journal, f"job-{i}")
    walk(journal, "job-0", S.PROVING, cycles=500)
    walk(journal, "job-1", S.PROVED, cycles=1_000)
    walk(journal, "job-2", S.COMPLETED, cycles=2_000, payout_wei=3 * 10**18 + 7)  # > 2**53: exact
    status = await source.status()
    assert status.jobs["discovered"] == 1 and status.jobs["proving"] == 1
    assert status.jobs["proved"] == 1 and status.jobs["completed"] == 1
    assert status.proving_now == ["job-0"]
    assert status.proofs == 2 and status.cycles_proved == 3_000
    assert status.earned_wei == 3 * 10**18 + 7
    assert '"earned_wei":"3000000000000000007"' in status.model_dump_json()

    walk(journal, "job-0", S.COMPLETED, payout_wei=5)
    again = await source.status()
    assert again.proofs == 3 and again.cycles_proved == 3_500 and again.earned_wei == 3 * 10**18 + 12
    assert again.proving_now == []


async def test_live_stats_come_through_and_may_be_async(journal: JobJournal, clock: Clock):
    breakers = CircuitBreakers(failure_threshold=2, clock=clock)
    breakers.record("rpc", ok=False)
    breakers.record("rpc", ok=False)
    breakers.record("attester", ok=True)

    async def live() -> LiveStats:
        await asyncio.sleep(0)
        return LiveStats(running=True, mode=Mode.MINIMAL, mode_reason="the chain RPC is unreachable",
                         prove_durations_s=[0.2, 0.7, 3.0],
                         caches={"proof": {"hits": 4, "misses": 1}, "blob": {"hits": 1, "disk_hits": 2, "misses": 3}},
                         breakers=breakers.snapshot())  # fmt: skip

    status = await JournalStatusSource(journal, live, clock=clock).status()
    assert status.mode is Mode.MINIMAL and status.mode_reason.startswith("the chain RPC")
    assert status.breakers == {"attester": "closed", "rpc": "open"}
    assert status.caches["proof"].hits == 4 and status.caches["blob"].hits == 3 and status.caches["blob"].misses == 3
    assert status.prove_times.count == 3 and abs(status.prove_times.sum_s - 3.9) < 1e-9
    clock.advance(31)  # past open_s: a call now would be let through as a probe
    later = await JournalStatusSource(journal, live, clock=clock).status()
    assert later.breakers["rpc"] == "half_open"


def test_helpers():
    t = prove_times([0.05, 0.3, 0.3, 700.0], buckets=(0.1, 0.5, 600.0))
    assert t.buckets == [(0.1, 1), (0.5, 3), (600.0, 3)] and t.count == 4
    stats = cache_stats({"hits": 2, "disk_hits": 1, "misses": 5, "evictions": 9})
    assert stats.model_dump() == {"hits": 3, "misses": 5}
    snapshot = {"a": "open", "b": {"state": "closed"}, "c": {"state": "open", "state_now": "half_open"}}
    assert breaker_states(snapshot) == {"a": "open", "b": "closed", "c": "half_open"}


def test_throughput_rates_are_exact_per_interval():
    h = ThroughputHistory(size=3, interval_s=10.0)
    h.record(0.0, proofs=0, cycles=0)
    h.record(5.0, proofs=100, cycles=100)  # too soon: no sample
    assert h.samples() == []
    h.record(10.0, proofs=5, cycles=20_000)
    h.record(30.0, proofs=25, cycles=20_000)
    assert [(s.at, s.proofs_per_min, s.cycles_per_s) for s in h.samples()] == [(10.0, 30.0, 2000.0), (30.0, 60.0, 0.0)]
    for t in (40.0, 50.0, 60.0):
        h.record(t, proofs=25, cycles=20_000)
    assert len(h.samples()) == 3  # bounded


async def test_run_samples_until_cancelled(journal: JobJournal, clock: Clock):
    source = JournalStatusSource(journal, clock=clock, history=ThroughputHistory(interval_s=0.01))
    cancel = asyncio.Event()
    task = asyncio.create_task(source.run(cancel))
    add(journal, "a")
    for _ in range(500):  # bounded: the loop samples every 10 ms of real time
        clock.advance(1.0)
        await asyncio.sleep(0.01)
        if len(source.history.samples()) >= 3:
            break
    cancel.set()
    await asyncio.wait_for(task, 10)
    assert len(source.history.samples()) >= 3
    status: NodeStatus = await source.status()
    assert status.running and status.mode is Mode.NORMAL


async def test_counters_never_step_back(journal: JobJournal, source: JournalStatusSource):
    add(journal, "a")
    walk(journal, "a", S.PROVED, cycles=77)
    assert (await source.status()).proofs == 1
    journal.transition("a", S.EXPIRED)  # the claim ran out before submission: the proof was still made
    later = await source.status()
    assert later.proofs == 1 and later.cycles_proved == 77 and later.jobs["expired"] == 1
