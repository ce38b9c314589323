"""What the multi-node scenarios share: a `ray.cluster_utils.Cluster` with fake GPU nodes, a traced prove
task, and a small job driver over the real scheduler actor, journal, breakers and proving pool.

Each scenario runs as its own process (a Cluster needs its own Ray; the pytest process shares one Ray
for the whole suite) and prints one JSON line: the test reads the facts and asserts on them.

The traced task is the real task body (`run_prove`) with a record around it: which node and GPU ran
it, when it started and whether it finished, appended to a per-run directory that every fake node
sees (they share this machine's disk). A program given as bytes (a cached ELF, resolved by Ray on the
node) is checked against its digest and then proved as the built-in `fib` guest: the RV32IM ELF
prover has not landed yet, and what the scenarios test is where the bytes travel, not the guest.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# Workers start from the raylets this process starts, so they inherit these: they import this module
# by name (the traced task) and write their records under the trace directory.
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")])
os.environ.setdefault("ZKRAY_TRACE_DIR", tempfile.mkdtemp(prefix="zkray-trace-"))
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from actors.factory import BreakersHandle, start_circuit_breakers, start_job_scheduler  # noqa: E402
from actors.scheduler import JobOffer  # noqa: E402
from zkray.node.config import ProvingConfig  # noqa: E402
from zkray.node.proving import ProveOutcome, ProveRequest, ProvingPool, run_prove  # noqa: E402
from zkray.node.proving.runtime import RayRuntime  # noqa: E402
from zkray.policy.jobs import JobStatus  # noqa: E402
from zkray.proving import guests  # noqa: E402

S = JobStatus
MiB = 1024 * 1024
FIB_ID = guests()["fib"]


def trace_dir() -> Path:
    return Path(os.environ["ZKRAY_TRACE_DIR"])


def _record(event: dict[str, Any]) -> None:
    with open(trace_dir() / f"{os.getpid()}.jsonl", "a") as f:
        f.write(json.dumps(event) + "\n")


def traced_prove(backend: Any, kind: str, program: Any, input_: bytes, image_id: Any, fault: Any, remote: Any) -> bytes:
    """`run_prove` with a record of where it ran (the node id and GPU ids inside the task)."""
    ctx = ray.get_runtime_context()
    job = json.loads(input_)["job"]
    program_digest = None
    if isinstance(program, bytes):
        program_digest = hashlib.sha256(program).hexdigest()[:16]
        program = "fib"
    base = {"job": job, "node": ctx.get_node_id(), "gpus": [str(g) for g in ray.get_gpu_ids()],
            "backend": str(backend), "task": ctx.get_task_id(), "program": program_digest}  # fmt: skip
    _record({**base, "event": "start", "t": time.time()})
    receipt = run_prove(backend, kind, program, _fib_input(input_), image_id, fault, remote)
    _record({**base, "event": "end", "t": time.time()})
    return receipt


def _fib_input(input_: bytes) -> bytes:
    """Jobs carry their id in the input (so the trace names the job); the guest reads only `n` (u32 LE)."""
    return int(json.loads(input_)["n"]).to_bytes(4, "little")


def traces() -> list[dict[str, Any]]:
    out = []
    for path in sorted(trace_dir().glob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def fib_input(job: str, n: int) -> bytes:
    return json.dumps({"job": job, "n": n}).encode()


@contextmanager
def cluster(nodes: list[dict[str, Any]], head_store: int = 80 * MiB) -> Iterator[tuple[Cluster, list[Any]]]:
    """A head with no CPUs (so prove tasks go to workers; actors, taking none, may live there) and
    `nodes` workers (add_node kwargs, e.g. num_cpus=1, num_gpus=1); shut down however the block ends."""
    head = {"num_cpus": 0, "include_dashboard": False, "object_store_memory": head_store}
    c = Cluster(initialize_head=True, head_node_args=head)
    try:
        handles = [c.add_node(**{"object_store_memory": 80 * MiB, **spec}) for spec in nodes]
        c.wait_for_nodes()
        ray.init(address=c.address, log_to_driver=False, configure_logging=False)
        yield c, handles
    finally:
        ray.shutdown()
        c.shutdown()


def runtime() -> RayRuntime:
    """The real Ray runtime with the traced task body."""
    return RayRuntime(task=ray.remote(max_retries=0, retry_exceptions=False)(traced_prove))


@dataclass
class Driver:
    """The node's proving loop in small: scheduler actor (journal) → pool → proof stored → submitted once.

    `submit` is guarded by the journal, as the node's submitter is: only a PROVED job is submitted, so a
    proof that arrives twice cannot be submitted twice; `submissions` counts what was submitted."""

    pool: ProvingPool
    scheduler: Any
    submissions: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, list[ProveOutcome]] = field(default_factory=dict)
    requests: dict[str, ProveRequest] = field(default_factory=dict)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return retry_unavailable(lambda: getattr(self.scheduler, method).remote(*args, **kwargs))

    def admit(self, request: ProveRequest) -> None:
        """Offer the job, take it from the queue through the claim to PROVING, and hand it to the pool."""
        now = time.time()
        offer = JobOffer(request.job_id, "test", FIB_ID.hex(), "", "", 10**15, now, now + 3600)
        assert self.call("offer", offer).admission.value == "queued"
        record = self.call("next_job")
        assert record is not None and record.id == request.job_id, record
        for status in (S.PREFLIGHT, S.CLAIMING, S.CLAIMED, S.PROVING):
            self.call("move", request.job_id, status)
        self.requests[request.job_id] = request
        self.pool.submit(request)

    def resubmit(self, request: ProveRequest) -> None:
        """A job whose proving was lost (back in CLAIMED) proved again, e.g. with a re-fetched program."""
        self.call("move", request.job_id, S.PROVING)
        self.requests[request.job_id] = request
        self.pool.submit(request)

    def status(self, job_id: str) -> str:
        return str(self.call("job", job_id).status.value)

    def step(self, timeout_s: float = 0.5) -> list[ProveOutcome]:
        done = self.pool.poll(timeout_s)
        for outcome in done:
            self.outcomes.setdefault(outcome.job_id, []).append(outcome)
            if outcome.ok:
                self.call("store_proof", outcome.job_id, outcome.receipt)
                self.submit(outcome.job_id)
            else:
                self.call("work_lost", outcome.job_id, str(outcome.error))
        return done

    def submit(self, job_id: str) -> None:
        if self.call("job", job_id).status is not S.PROVED:
            return
        self.call("move", job_id, S.SUBMITTING)
        self.submissions[job_id] = self.submissions.get(job_id, 0) + 1
        self.call("move", job_id, S.COMPLETED)

    def run_until(self, done: Callable[[], bool], timeout_s: float, each: Callable[[], None] | None = None) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if done():
                return True
            self.step()
            if each is not None:
                each()
        return done()


def start_driver(
    journal: Path, config: ProvingConfig, runtime_: Any = None, **breaker_options: Any
) -> tuple[Driver, Any]:
    breakers = start_circuit_breakers(**breaker_options)
    scheduler = start_job_scheduler(journal)
    pool = ProvingPool(runtime_ or runtime(), config, breakers=BreakersHandle(breakers))
    return Driver(pool, scheduler), breakers


def retry_unavailable(call: Callable[[], Any], tries: int = 60) -> Any:
    """`ray.get(call())`, again while the actor is unavailable (Ray is restarting it), at most `tries` times.
    Only for calls that are safe to repeat or that never reached the dead actor."""
    for _ in range(tries - 1):
        try:
            return ray.get(call(), timeout=60)
        except ray.exceptions.ActorUnavailableError:
            time.sleep(0.5)
    return ray.get(call(), timeout=60)


def wait_for(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.2) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


def phases(*named: tuple[str, Callable[[], dict[str, Any]]]) -> None:
    """Run each phase, keep going after one fails (its error is reported), print one JSON line."""
    report: dict[str, Any] = {}
    for name, phase in named:
        started = time.monotonic()
        try:
            report[name] = {"ok": True, **phase()}
        except Exception:
            report[name] = {"ok": False, "error": traceback.format_exc()}
        report[name]["seconds"] = round(time.monotonic() - started, 1)
    print("RESULT " + json.dumps(report, default=str), flush=True)
    sys.stdout.flush()


def new_id() -> str:
    return uuid.uuid4().hex[:8]
