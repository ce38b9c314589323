"""`node_status_source` over the node's real parts: scheduler, breaker registry, proof cache, journal."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from observe_support import Clock, add, walk

from actors.breakers import RPC, CircuitBreakers
from actors.proof_cache import ProofCache
from actors.scheduler import JobScheduler
from zkray.observe import RayNode, node_status_source, readiness
from zkray.observe.node_source import RayNodesCache
from zkray.policy.degradation import Mode
from zkray.policy.jobs import JobStatus as S
from zkray.store.journal import JobJournal


async def test_reads_the_nodes_parts(tmp_path: Path, clock: Clock):
    path = tmp_path / "node.sqlite"
    journal = JobJournal(path, clock=clock)
    scheduler = JobScheduler(path, clock=clock)
    breakers = CircuitBreakers(failure_threshold=1, clock=clock)
    cache = ProofCache(None, clock=clock)
    prover = SimpleNamespace(prove_seconds=[1.25, 0.75], cache=cache)
    node = SimpleNamespace(journal=journal, scheduler=scheduler, breakers=breakers, prover=prover)
    state = {"running": True}
    source = node_status_source(node, running=lambda: state["running"], ray=False)
    try:
        add(journal, "engine:1")
        walk(journal, "engine:1", S.COMPLETED, cycles=2048, payout_wei=7)
        cache.put("0xab", "0xcd", b"receipt")
        assert cache.get("0xab", "0xcd") is not None and cache.get("0xab", "0xee") is None
        breakers.record(RPC, ok=False)
        scheduler.update_health(breakers.signals())

        status = await source.status()
        assert status.jobs["completed"] == 1 and status.proofs == 1 and status.earned_wei == 7
        assert status.caches["proof"].hits == 1 and status.caches["proof"].misses == 1
        assert status.breakers[RPC] == "open" and status.mode is Mode.MINIMAL
        assert status.prove_times.count == 2 and status.prove_times.sum_s == 2.0
        assert readiness(status) == (True, [])
        state["running"] = False
        assert readiness(await source.status())[0] is False
    finally:
        scheduler.close()
        journal.close()


async def test_ray_nodes_are_asked_at_most_every_interval():
    clock = Clock(0.0)
    calls = []

    def fetch() -> list[RayNode]:
        calls.append(clock.t)
        if len(calls) == 2:
            raise ConnectionError("gcs restarting")
        return [RayNode(node_id=f"n{len(calls)}", cpus=2)]

    nodes = RayNodesCache(every_s=5.0, fetch=fetch, clock=clock)
    assert [n.node_id for n in await nodes.get()] == ["n1"]
    clock.advance(4.9)
    assert [n.node_id for n in await nodes.get()] == ["n1"] and len(calls) == 1
    clock.advance(0.1)
    assert [n.node_id for n in await nodes.get()] == ["n1"] and len(calls) == 2  # failed: the last answer
    clock.advance(5.0)
    assert [n.node_id for n in await nodes.get()] == ["n3"]
