"""The proving pool on real Ray with the real prover: concurrent fib jobs, one hung and one crashed
worker among them, each killed and retried while the others complete; fallback from a down remote."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from node_support import RemoteMissingModule, UnreachableRemote, fib_input

from actors.breakers import CircuitBreakers
from actors.factory import BreakersHandle, start_circuit_breakers
from zkray import guests
from zkray.node.config import MAX_SEGMENT_CYCLES, ProvingConfig
from zkray.node.proving import Fault, NoCapableNode, ProveRequest, ProvingPool
from zkray.node.proving.runtime import RayRuntime
from zkray.policy.breaker import BreakerState
from zkray.policy.degradation import HealthSignals, Mode, flags
from zkray.policy.degradation import ProverBackend as B
from zkray.zkvm.errors import InputError
from zkray.zkvm.receipt import Receipt

pytestmark = pytest.mark.timeout(300)

FIB = guests()["fib"]


def test_a_hung_and_a_crashed_task_are_killed_and_retried_while_the_others_complete(
    ray_session: Any, tmp_path: Path
) -> None:
    breakers = CircuitBreakers()
    config = ProvingConfig(max_concurrent=4, retry_initial_s=0.05, task_timeout_s=240.0)
    pool = ProvingPool(RayRuntime(), config, breakers=breakers)
    assert pool.runnable == (B.CPU,)  # the session cluster has no GPUs: CPU tasks only
    normal = [ProveRequest(f"job-{n}", "fib", fib_input(n)) for n in (10, 20)]
    # an input already in the object store (as the fetcher or a cache hands it over) goes by ref
    normal.append(ProveRequest("job-30", "fib", ray_session.put(fib_input(30))))
    hung = ProveRequest(
        "job-hung", "fib", fib_input(40), timeout_s=30.0, fault=Fault("hang", str(tmp_path / "hang"), 3600.0)
    )
    crashed = ProveRequest("job-crash", "fib", fib_input(50), fault=Fault("crash", str(tmp_path / "crash")))
    done = pool.run([hung, crashed, *normal], deadline_s=240.0)

    assert set(done) == {"job-10", "job-20", "job-30", "job-hung", "job-crash"}
    for job_id, outcome in done.items():
        assert outcome.ok, f"{job_id}: {outcome.error}"
        receipt = Receipt.decode(outcome.receipt)  # type: ignore[arg-type]
        receipt.verify(FIB)
    assert {j: done[j].attempts for j in done} == {
        "job-10": 1, "job-20": 1, "job-30": 1, "job-hung": 2, "job-crash": 2
    }  # fmt: skip
    assert int.from_bytes(Receipt.decode(done["job-hung"].receipt).journal[4:8], "little") > 0  # type: ignore[arg-type]
    assert pool.counters["timeouts"] == 1 and pool.counters["crashes"] == 1 and pool.counters["proved"] == 5
    assert pool.pending() == 0 and breakers.signals().prove_failure_rate == 2 / 7


def test_permanent_errors_fail_at_once_and_a_down_remote_falls_back_to_cpu(ray_session: Any, tmp_path: Path) -> None:
    ray = ray_session
    registry = start_circuit_breakers(failure_threshold=1)  # the breaker actor, as the node shares it
    ray.get(registry.register.remote("remote_prover"))
    config = ProvingConfig(retry_initial_s=0.05)
    pool = ProvingPool(RayRuntime(), config, breakers=BreakersHandle(registry), remote=UnreachableRemote())
    assert pool.runnable == (B.REMOTE, B.CPU)
    pool.set_flags(flags(Mode.UNAVAILABLE, HealthSignals()))  # proving itself is broken: start nothing
    pool.submit(ProveRequest("job-waits", "fib", fib_input(5)))
    assert pool.poll(0.2) == [] and pool.in_flight() == 0 and pool.pending() == 1
    assert pool.cancel("job-waits") and pool.pending() == 0
    pool.set_flags(flags(Mode.NORMAL, ray.get(registry.signals.remote())))
    bad = ProveRequest("job-bad-input", "fib", b"\x01\x02")  # not a u32: the guest refuses it
    good = ProveRequest("job-good", "fib", fib_input(12))
    oom = ProveRequest("job-oom", "fib", fib_input(14), fault=Fault("oom", str(tmp_path / "oom")))
    done = pool.run([bad, good, oom], deadline_s=180.0)

    bad_outcome = done["job-bad-input"]
    assert not bad_outcome.ok and isinstance(bad_outcome.error.cause, InputError)  # type: ignore[union-attr]
    assert bad_outcome.backends.count(B.CPU) == 1  # the input error on CPU was final: never tried again
    assert done["job-good"].ok and done["job-good"].backends[-1] is B.CPU
    assert done["job-oom"].ok and done["job-oom"].attempts == 2  # MemoryError in the task: retried
    assert B.REMOTE in {b for o in done.values() for b in o.backends}
    assert ray.get(registry.state.remote("remote_prover")) is BreakerState.OPEN  # refused connections count
    for job_id in ("job-good", "job-oom"):
        Receipt.decode(done[job_id].receipt).verify(FIB)  # type: ignore[arg-type]
    ray.kill(registry)


def test_a_job_past_its_memory_budget_fails_out_of_memory_while_a_concurrent_job_completes(
    ray_session: Any,
) -> None:
    """A real address-space limit in the worker (task_memory_mib): fib(65536) needs more than 256 MiB and
    fails its allocation on both attempts it gets; fib(16), proving beside it on the same budget, is paid."""
    config = ProvingConfig(max_concurrent=2, retry_initial_s=0.05, task_memory_mib=256, task_timeout_s=240.0)
    pool = ProvingPool(RayRuntime(), config)
    big = ProveRequest("job-big", "fib", fib_input(65536))
    small = [ProveRequest(f"job-{n}", "fib", fib_input(n)) for n in (16, 20)]
    done = pool.run([big, *small], deadline_s=240.0)

    assert set(done) == {"job-big", "job-16", "job-20"}
    assert not done["job-big"].ok and done["job-big"].out_of_memory, done["job-big"].error
    assert done["job-big"].attempts == 2  # retried once on a fresh start (oom_attempts), then failed cleanly
    assert "256 MiB" in str(done["job-big"].error)
    for job_id in ("job-16", "job-20"):
        assert done[job_id].ok and done[job_id].attempts == 1, done[job_id].error
        Receipt.decode(done[job_id].receipt).verify(FIB)  # type: ignore[arg-type]
    assert pool.counters["oom"] == 2 and pool.counters["crashes"] == 0 and pool.pending() == 0
    # the workers that hit the limit are reused with their limit restored: the next proofs run normally
    again = pool.run([ProveRequest("job-after", "fib", fib_input(24))], deadline_s=120.0)
    assert again["job-after"].ok and again["job-after"].attempts == 1


def test_an_import_error_in_the_task_fails_the_job_after_one_attempt(ray_session: Any) -> None:
    """An ImportError (a broken install, not a busy cluster) must not burn the job's three attempts."""
    config = ProvingConfig(backends=(B.REMOTE,), retry_initial_s=0.05)
    pool = ProvingPool(RayRuntime(), config, remote=RemoteMissingModule())
    done = pool.run([ProveRequest("job-import", "fib", fib_input(7))], deadline_s=120.0)
    outcome = done["job-import"]
    assert not outcome.ok and isinstance(outcome.error.cause, ImportError), outcome.error  # type: ignore[union-attr]
    assert outcome.attempts == 1 and pool.counters["retries"] == 0


def test_an_elf_request_with_segments_the_verifier_refuses_is_not_accepted(ray_session: Any) -> None:
    pool = ProvingPool(RayRuntime(), ProvingConfig())
    too_big = ProveRequest("job-big", b"elf", b"", kind="elf", segments=2, segment_cycles=MAX_SEGMENT_CYCLES * 2)
    with pytest.raises(ValueError, match="the verifier accepts"):
        pool.submit(too_big)
    assert pool.pending() == 0


def test_a_backend_no_node_can_run_is_never_scheduled(ray_session: Any) -> None:
    with pytest.raises(NoCapableNode, match="0 GPU"):
        ProvingPool(RayRuntime(), ProvingConfig(backends=(B.GPU,)))
    with pytest.raises(NoCapableNode):
        ProvingPool(RayRuntime(), ProvingConfig(cpus_per_task=64.0))


def test_submit_and_cancel_from_another_thread_while_poll_waits(ray_session: Any, tmp_path: Path) -> None:
    """The node polls in a worker thread and submits/cancels from its event loop: nothing is lost or raced."""
    pool = ProvingPool(RayRuntime(), ProvingConfig(max_concurrent=2))
    done: dict[str, Any] = {}
    stop = threading.Event()

    def poller() -> None:
        end = time.monotonic() + 150
        while not stop.is_set() and time.monotonic() < end:
            for outcome in pool.poll(0.2):
                done[outcome.job_id] = outcome

    thread = threading.Thread(target=poller)
    thread.start()
    try:
        hang = Fault("hang", str(tmp_path / "hang"), 3600.0)
        pool.submit(ProveRequest("job-cancelled", "fib", fib_input(9), fault=hang))
        for n in (11, 13, 15):
            pool.submit(ProveRequest(f"job-{n}", "fib", fib_input(n)))
        end = time.monotonic() + 60
        while pool.in_flight() == 0 and time.monotonic() < end:
            time.sleep(0.05)
        assert pool.cancel("job-cancelled")  # running (hung) or still waiting: either way it goes
        end = time.monotonic() + 150
        while len(done) < 3 and time.monotonic() < end:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert set(done) == {"job-11", "job-13", "job-15"} and all(o.ok for o in done.values())
    assert pool.pending() == 0 and pool.counters["timeouts"] == 0
