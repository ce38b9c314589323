"""The actors on real Ray: caches own their object-store refs, pins hold across callers, restarts reload."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from actors.factory import start_circuit_breakers, start_job_scheduler, start_program_cache, start_proof_cache
from actors.scheduler import Admission, JobOffer
from zkray.policy.breaker import BreakerState

pytestmark = pytest.mark.timeout(180)


def _owner_gone(ray: Any, ref: Any, within_s: float = 30.0) -> bool:
    """Whether reading `ref` fails with OwnerDiedError within `within_s` (news of a death takes a moment)."""
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        try:
            ray.get(ref, timeout=5)
        except ray.exceptions.OwnerDiedError:
            return True
        except ray.exceptions.GetTimeoutError:
            pass  # the fetch is still being resolved on a loaded machine: ask again
        time.sleep(0.2)
    return False


def _actor_dead(ray: Any, actor: Any, within_s: float = 60.0) -> bool:
    """Whether calls to `actor` fail with RayActorError within `within_s`: `ray.kill` is asynchronous, so a
    call sent right after it may still be answered on a loaded machine."""
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        try:
            ray.get(actor.stats.remote(), timeout=10)
        except ray.exceptions.RayActorError:
            return True
        except ray.exceptions.GetTimeoutError:
            pass
        time.sleep(0.2)
    return False


def test_proof_cache_actor_owns_its_refs_and_a_new_actor_reloads_from_disk(ray_session: Any, tmp_path: Path) -> None:
    ray = ray_session
    cache = start_proof_cache(tmp_path, 1 << 20)
    receipt = b"R" * 5000
    ray.get(cache.put.remote("aa", "bb", receipt, now=0.0))
    blob = ray.get(cache.get.remote("aa", "bb", now=1.0))
    assert blob.tier == "memory" and ray.get(blob.handle) == receipt

    def length_of(data: bytes) -> int:  # defined here so Ray ships it by value (tests are not importable)
        return len(data)

    length = ray.remote(length_of)
    assert ray.get(length.remote(blob.handle)) == 5000  # a task reads it by ref, no copy through the actor
    ray.kill(cache)
    assert _actor_dead(ray, cache), "a killed actor must stop answering"
    assert _owner_gone(ray, blob.handle), "the actor owned the object, so it must go with the actor"
    reopened = start_proof_cache(tmp_path, 1 << 20)
    again = ray.get(reopened.get.remote("aa", "bb", now=2.0))
    assert again is not None and again.tier == "disk" and ray.get(again.handle) == receipt
    ray.kill(reopened)


def test_program_cache_actor_never_evicts_a_pinned_program(ray_session: Any, tmp_path: Path) -> None:
    ray = ray_session
    cache = start_program_cache(10_000, tmp_path)
    ray.get(cache.put.remote("01", b"\x01" * 6000, job_id="job-running"))
    for i in range(2, 6):  # each would need the pinned program's room
        ray.get(cache.put.remote(f"0{i}", bytes([i]) * 4000))
    stats = ray.get(cache.stats.remote())
    assert stats["pins"] == {"job-running": ["01"]} and stats["bytes"] <= 10_000 and stats["spills"] >= 3
    pinned = ray.get(cache.get.remote("01"))
    assert pinned.tier == "memory" and ray.get(pinned.handle) == b"\x01" * 6000
    ray.get(cache.release.remote("job-running"))
    reloaded = ray.get(cache.get.remote("02"))  # spilled earlier, found on disk
    assert reloaded is not None and ray.get(reloaded.handle) == b"\x02" * 4000
    ray.kill(cache)


def test_scheduler_and_breaker_actors(ray_session: Any, tmp_path: Path) -> None:
    ray = ray_session
    breakers = start_circuit_breakers(failure_threshold=2)
    scheduler = start_job_scheduler(tmp_path / "journal.db", capacity=2)
    offers = [JobOffer(f"job-{i}", "test", "aa", "ipfs://x", "dd", (i + 1) * 10**15, 0.0, 4e9) for i in range(3)]
    results = ray.get([scheduler.offer.remote(o) for o in offers])
    assert [r.admission for r in results] == [Admission.QUEUED] * 3 and results[2].evicted == "job-0"
    ray.get([breakers.record.remote("rpc", False) for _ in range(2)])
    signals = ray.get(breakers.signals.remote())
    assert signals.rpc is BreakerState.OPEN
    assert ray.get(scheduler.update_health.remote(signals)) == "minimal"
    assert ray.get(scheduler.next_job.remote()) is None
    snapshot = ray.get(scheduler.snapshot.remote())
    assert snapshot["counts"]["queued"] == 2 and snapshot["counts"]["skipped"] == 1 and snapshot["mode"] == "minimal"
    ray.get(scheduler.close.remote())
    ray.kill(scheduler)
    ray.kill(breakers)
