"""The job scheduler without Ray: a real SQLite journal, invented clocks."""

from __future__ import annotations

from pathlib import Path

from actors.breakers import RPC, CircuitBreakers
from actors.scheduler import Admission, JobOffer, JobScheduler
from zkray.policy.breaker import BreakerState
from zkray.policy.degradation import Mode
from zkray.policy.jobs import JobStatus as S

ETH = 10**18


def offer(job_id: str, tip: float, *, now: float = 0.0, expires_in: float = 3600.0, image: str = "aa") -> JobOffer:
    return JobOffer(job_id, "chain", image, f"ipfs://{job_id}", "dd", int(tip * ETH), now, now + expires_in)


def test_a_full_queue_evicts_the_worst_job_and_journals_it(tmp_path: Path) -> None:
    sched = JobScheduler(tmp_path / "j.db", capacity=3, clock=lambda: 0.0)
    for job_id, tip in [("low", 0.001), ("high", 0.009), ("mid", 0.005)]:
        assert sched.offer(offer(job_id, tip)).admission is Admission.QUEUED
    result = sched.offer(offer("new", 0.007))
    assert result.admission is Admission.QUEUED and result.evicted == "low"
    assert sched.job("low").status is S.SKIPPED  # type: ignore[union-attr]
    assert sched.offer(offer("worse", 0.0001)).admission is Admission.REJECTED
    order = [sched.next_job().id for _ in range(3)]  # type: ignore[union-attr]
    assert order == ["high", "new", "mid"]
    assert sched.next_job() is None
    assert sched.job("high").status is S.FETCHING  # type: ignore[union-attr]


def test_duplicates_are_handled_once_and_skipped_jobs_can_return(tmp_path: Path) -> None:
    sched = JobScheduler(tmp_path / "j.db", capacity=1, clock=lambda: 0.0)
    sched.offer(offer("a", 0.005))
    assert sched.offer(offer("a", 0.005)).admission is Admission.DUPLICATE
    sched.offer(offer("b", 0.009))  # evicts a
    assert sched.job("a").status is S.SKIPPED  # type: ignore[union-attr]
    sched.next_job()  # b leaves the queue
    assert sched.offer(offer("a", 0.005)).admission is Admission.QUEUED  # re-offered by the chain
    assert sched.job("a").status is S.QUEUED  # type: ignore[union-attr]


def test_admission_closes_when_the_rpc_breaker_opens_and_reopens_after_recovery(tmp_path: Path) -> None:
    sched = JobScheduler(tmp_path / "j.db", clock=lambda: 0.0)
    breakers = CircuitBreakers(failure_threshold=2, open_s=10.0, half_open_probes=1)
    sched.offer(offer("queued-before", 0.005))
    for t in (1.0, 2.0):
        breakers.record(RPC, ok=False, now=t)
    assert sched.update_health(breakers.signals(now=2.0), now=2.0) is Mode.MINIMAL
    result = sched.offer(offer("during", 0.009), now=3.0)
    assert result.admission is Admission.CLOSED and "chain RPC" in result.reason
    assert sched.next_job(now=3.0) is None  # MINIMAL: finish claimed work, start nothing new
    assert breakers.allow(RPC, now=13.0)  # half-open probe
    breakers.record(RPC, ok=True, now=13.0)
    assert breakers.state(RPC, now=13.0) is BreakerState.CLOSED
    sched.update_health(breakers.signals(now=13.0), now=13.0)
    for t in (80.0, 150.0):  # one level per recovery_s of healthy signals: MINIMAL → DEGRADED → NORMAL
        sched.update_health(breakers.signals(now=t), now=t)
    assert sched.update_health(breakers.signals(now=220.0), now=220.0) is Mode.NORMAL
    assert sched.offer(offer("during", 0.009, now=220.0), now=220.0).admission is Admission.QUEUED
    assert {sched.next_job(now=221.0).id for _ in range(2)} == {"during", "queued-before"}  # type: ignore[union-attr]


def test_expired_jobs_leave_the_queue_as_expired(tmp_path: Path) -> None:
    sched = JobScheduler(tmp_path / "j.db", clock=lambda: 0.0)
    sched.offer(offer("short", 0.009, expires_in=60.0))
    sched.offer(offer("long", 0.001))
    assert sched.offer(offer("dead", 0.009, expires_in=-1.0)).admission is Admission.EXPIRED
    assert sched.next_job(now=61.0).id == "long"  # type: ignore[union-attr]
    assert sched.job("short").status is S.EXPIRED  # type: ignore[union-attr]


def test_cached_programs_score_higher(tmp_path: Path) -> None:
    sched = JobScheduler(tmp_path / "j.db", clock=lambda: 0.0)
    sched.offer(offer("uncached", 0.0050, image="11"))
    sched.offer(offer("cached", 0.0045, image="22"))
    sched.set_cached(["0x22"])
    assert sched.next_job().id == "cached"  # type: ignore[union-attr]


def test_lost_work_steps_back_one_stage_and_a_restart_rebuilds_the_queue(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    sched = JobScheduler(path, clock=lambda: 0.0)
    sched.offer(offer("fetch-died", 0.009))
    sched.offer(offer("waiting", 0.001))
    sched.next_job()
    back = sched.work_lost("fetch-died", "gateway timed out")
    assert back.status is S.QUEUED and back.attempts == 1
    assert sched.next_job().id == "fetch-died"  # type: ignore[union-attr]  # queued again, still the best
    for status in (S.PREFLIGHT, S.CLAIMING, S.CLAIMED, S.PROVING):
        sched.move("fetch-died", status)
    assert sched.work_lost("fetch-died", "prove task killed").status is S.CLAIMED
    sched.close()
    restarted = JobScheduler(path, clock=lambda: 10.0)
    assert [j.id for j in restarted.recoverable()] == ["fetch-died", "waiting"]  # claimed first
    assert restarted.next_job().id == "waiting"  # type: ignore[union-attr]
    assert restarted.snapshot()["counts"]["claimed"] == 1


def test_breaker_registry_snapshot_restores_and_feeds_failure_rates() -> None:
    breakers = CircuitBreakers(failure_threshold=1, min_samples=4)
    breakers.register("gpu")
    breakers.record("ipfs-gateway:https://a", ok=False, now=0.0)
    for ok in (True, False, False, False):
        breakers.record_outcome("prove", ok, now=1.0)
    signals = breakers.signals(now=1.0)
    assert signals.gateways == (BreakerState.OPEN,) and signals.gpu is BreakerState.CLOSED
    assert signals.remote_prover is None and signals.prove_failure_rate == 0.75
    copy = CircuitBreakers()
    copy.restore(breakers.snapshot(now=1.0))
    assert copy.state("ipfs-gateway:https://a", now=1.0) is BreakerState.OPEN
    assert copy.snapshot(now=100.0)["ipfs-gateway:https://a"]["state_now"] == "half_open"
