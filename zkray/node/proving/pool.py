"""The proving pool: many jobs' prove tasks in flight on Ray, each watched, killed when hung, retried.

The node calls `submit(request)` and then `poll()` from its loop; `poll` starts attempts that are due,
waits (bounded) for tasks to finish, kills tasks past their deadline and returns the jobs that are done,
proved or failed for good. Every job is its own task and its own retry state, so one hung, crashed or
out-of-memory task never takes another job's proof down.

For each attempt the backend is the first of the degradation policy's chain (remote → GPU → CPU) that
the configuration enables, the cluster can run, the job has not already failed on, and whose breaker
allows a call. Attempts count across backends (`max_attempts` in all); a failed remote or GPU attempt
falls back to the next backend, while CPU, the last resort, is retried on itself.

An RV32IM ELF job (kind "elf" with its planned `segments`) is several tasks: one per segment, all started
at once as slots allow (GPU where there are GPUs, never the remote backend), then one join task once every
segment is proved (on CPU when the cluster runs CPU tasks: it verifies, it does not prove). Each task has
its own attempts, deadline and retry state, so a segment that hangs or whose worker dies is killed and
proved again alone while the others keep their receipts; a segment that fails for good fails the job (and
its other tasks are killed). `records` lists every finished attempt.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from zkray.node.config import ProvingConfig, check_segment_cycles
from zkray.node.proving.errors import NoCapableNode, ProveFailed, ProveOutOfMemory, ProveTaskCrashed, ProveTimeout
from zkray.node.proving.placement import TaskShape, choose_backend, require_runnable, runnable_backends, shape_for
from zkray.node.proving.request import (
    COMPOSE,
    ELF,
    SEGMENT,
    Fault,
    ProveRequest,
    RemoteProver,
    expected_image_id,
)
from zkray.policy.breaker import BreakerState
from zkray.policy.degradation import FeatureFlags, HealthSignals, Mode, ProverBackend, flags
from zkray.policy.retry import ErrorKind, Retrier, classify

B = ProverBackend
BREAKER_OF: dict[ProverBackend, str] = {B.REMOTE: "remote_prover", B.GPU: "gpu"}
"""The breaker service name of each backend (CPU has none: it is the last resort)."""


class Runtime(Protocol):
    """What the pool needs from a cluster (`RayRuntime`)."""

    def nodes(self) -> list[Mapping[str, float]]: ...

    def submit(
        self,
        shape: TaskShape,
        backend: ProverBackend,
        request: tuple[str, Any, Any, bytes | None, Fault | None],
        remote: RemoteProver | None,
        name: str,
    ) -> Any: ...

    def wait(self, refs: Sequence[Any], timeout_s: float) -> list[Any]: ...

    def result(self, ref: Any) -> bytes: ...

    def kill(self, ref: Any) -> None: ...


class Breakers(Protocol):
    """What the pool needs from the breaker registry (`actors.breakers.CircuitBreakers`)."""

    def allow(self, service: str, now: float | None = None) -> bool: ...

    def record(self, service: str, ok: bool, now: float | None = None) -> Any: ...

    def record_outcome(self, kind: str, ok: bool, now: float | None = None) -> None: ...


@dataclass(frozen=True)
class ProveOutcome:
    """A job the pool is done with: its receipt, or the error it failed with for good."""

    job_id: str
    receipt: bytes | None
    error: ProveFailed | None
    attempts: int
    backends: tuple[ProverBackend, ...]  # the backend of each attempt, in order

    @property
    def ok(self) -> bool:
        return self.receipt is not None

    @property
    def out_of_memory(self) -> bool:
        """Failed because a task ran out of its memory budget on every attempt it was allowed."""
        return self.error is not None and isinstance(self.error.cause, ProveOutOfMemory)


PROVE = "prove"
"""Task part of a job proved in one task (built-in guests, remote calls); ELF jobs use SEGMENT and COMPOSE."""


@dataclass
class _Task:
    """One unit the pool runs as a Ray task, with its own attempts, deadline and retry state: a whole
    proof, one segment of an ELF job, or the join of its segments. A segment that fails is retried alone;
    the segments already proved keep their receipts."""

    part: str  # PROVE, SEGMENT or COMPOSE
    index: int  # the segment's index (0 for the others)
    retrier: Retrier
    next_at: float
    excluded: set[ProverBackend] = field(default_factory=set)
    tried: list[ProverBackend] = field(default_factory=list)
    ref: Any = None
    backend: ProverBackend | None = None
    deadline: float = math.inf
    name: str = ""  # the running (or last) attempt's Ray task name
    output: Any = None  # a proved segment: the handle of its receipt, passed to the join task as is
    oom: int = 0  # attempts that ran out of memory

    @property
    def label(self) -> str:
        return f"segment {self.index}" if self.part == SEGMENT else self.part


@dataclass
class _Job:
    request: ProveRequest
    tasks: list[_Task]
    tried: list[ProverBackend] = field(default_factory=list)  # every attempt of every task, in order


@dataclass(frozen=True)
class TaskRecord:
    """One finished attempt, as the pool saw it (kept for the dashboard and for tests to read)."""

    job_id: str
    part: str
    index: int
    attempt: int  # of this task (a segment's retry is attempt 2 of that segment)
    backend: ProverBackend
    name: str  # the Ray task's name
    outcome: str  # "ok", or the error's class and message


class ProvingPool:
    """Prove tasks on a cluster for many jobs at once; drive it with `poll()`."""

    def __init__(
        self,
        runtime: Runtime,
        config: ProvingConfig | None = None,
        *,
        breakers: Breakers | None = None,
        remote: RemoteProver | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        cluster_refresh_s: float = 5.0,
    ) -> None:
        self._runtime = runtime
        # nodes join and leave (autoscaling, a lost node): poll re-reads them this often
        self._cluster_refresh_s = cluster_refresh_s
        self._refreshed_at = -math.inf
        self._config = config or ProvingConfig()
        self._breakers = breakers
        self._remote = remote
        self._clock = clock
        self._rng = rng or random.Random()
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()  # submit/cancel may come from another thread than poll
        self.counters = {"started": 0, "proved": 0, "failed": 0, "timeouts": 0, "crashes": 0, "retries": 0,
                         "segments": 0, "oom": 0}  # fmt: skip
        self.records: deque[TaskRecord] = deque(maxlen=4096)
        self._runnable: tuple[ProverBackend, ...] = ()
        self._slots: dict[ProverBackend, int] = {}
        self.refresh_cluster()
        signals = HealthSignals(
            remote_prover=BreakerState.CLOSED if remote is not None else None,
            gpu=BreakerState.CLOSED if B.GPU in self._runnable else None,
        )
        self._flags = flags(Mode.NORMAL, signals)

    # ---- configuration from outside -----------------------------------------------------------------

    def refresh_cluster(self) -> tuple[ProverBackend, ...]:
        """Re-read the alive nodes (after autoscaling or a node loss); returns the runnable backends.
        Raises NoCapableNode when no configured backend can run anywhere."""
        nodes = self._runtime.nodes()
        remote = self._remote is not None
        require_runnable(nodes, self._config, remote_configured=remote)
        self._runnable = runnable_backends(nodes, self._config, remote_configured=remote)
        cap = self._config.max_concurrent
        self._slots = {b: _slots(shape_for(b, self._config), nodes, cap) for b in self._runnable}
        return self._runnable

    def _refresh_quietly(self, now: float) -> None:
        """The periodic re-read: when no node can run anything for a moment, keep the last view (tasks
        placed meanwhile crash and are retried) rather than fail the node's loop."""
        self._refreshed_at = now
        try:
            self.refresh_cluster()
        except NoCapableNode:
            pass

    @property
    def runnable(self) -> tuple[ProverBackend, ...]:
        return self._runnable

    def set_flags(self, feature_flags: FeatureFlags) -> None:
        """The degradation mode's flags: which backends may be used, and whether to prove at all."""
        self._flags = feature_flags

    # ---- jobs ---------------------------------------------------------------------------------------

    def submit(self, request: ProveRequest) -> None:
        """Queue a job's proof; it starts at the next `poll` with a free slot. An ELF job with its planned
        `segments` fans out into one task per segment, then one join task."""
        if request.image_id is None:
            request = _with_image_id(request)
        now = self._clock()
        if request.kind == ELF and request.segments is not None:
            if request.segments < 1 or not request.segment_cycles:
                raise ValueError(f"job {request.job_id}: an ELF job needs segments >= 1 and segment_cycles")
            check_segment_cycles(request.segment_cycles)  # receipts of larger segments would not verify
            tasks = [self._task(SEGMENT, i, now) for i in range(request.segments)]
        else:
            tasks = [self._task(PROVE, 0, now)]
        with self._lock:
            if request.job_id in self._jobs:
                raise ValueError(f"job {request.job_id} is already being proved; wait for its outcome")
            self._jobs[request.job_id] = _Job(request, tasks)

    def _task(self, part: str, index: int, now: float) -> _Task:
        task = _Task(part, index, Retrier(self._config.retry_policy(), self._rng), next_at=now)
        if part != PROVE:
            task.excluded.add(B.REMOTE)  # a remote service proves whole jobs, not our segments
        if part == COMPOSE and B.CPU in self._runnable:
            task.excluded.add(B.GPU)  # the join only checks and verifies: it must not hold a GPU slot
        return task

    def cancel(self, job_id: str) -> bool:
        """Stop proving a job (claimed by another prover, cancelled); kills its task if running."""
        with self._lock:
            job = self._jobs.pop(job_id, None)
        if job is None:
            return False
        self._kill_all(job)
        return True

    def _kill_all(self, job: _Job) -> None:
        for task in job.tasks:
            if task.ref is not None:
                self._runtime.kill(task.ref)
                task.ref = None

    def in_flight(self) -> int:
        """Jobs with a task running now."""
        with self._lock:
            return sum(1 for j in self._jobs.values() if any(t.ref is not None for t in j.tasks))

    def pending(self) -> int:
        """Jobs not yet finished (running or waiting to start or retry)."""
        return len(self._jobs)

    def poll(self, timeout_s: float = 1.0) -> list[ProveOutcome]:
        """Start due attempts, wait up to `timeout_s` for tasks, kill hung ones; return finished jobs.

        Safe to run in a worker thread while another thread calls `submit` and `cancel`: the job table is
        locked except during the wait itself, and a job cancelled meanwhile is dropped, not reported."""
        outcomes: list[ProveOutcome] = []
        with self._lock:
            now = self._clock()
            if now - self._refreshed_at >= self._cluster_refresh_s:
                self._refresh_quietly(now)
            self._start_due(now)
            running = {t.ref: (j, t) for j in self._jobs.values() for t in j.tasks if t.ref is not None}  # by id
            # Wake for a deadline or a retry falling due; a job due but blocked (no free slot, breaker, mode)
            # can only start after a task ends or `timeout_s` passes: it must not make this a busy loop.
            wake = min([t.deadline for _, t in running.values()] + [self._next_retry(now)])
            wait_s = max(0.0, min(timeout_s, wake - now))
            waiting = bool(self._jobs)
        ready: list[Any] = []
        if running:
            ready = self._runtime.wait(list(running), wait_s)
        elif waiting:
            time.sleep(wait_s)
        with self._lock:
            now = self._clock()
            for ref in ready:
                job, task = running.pop(ref)
                if self._current(job, task, ref):
                    try:
                        result = self._runtime.result(ref)
                    except Exception as err:
                        self._failed(job, task, err, now, outcomes)
                    else:
                        self._proved(job, task, result, now, outcomes)
            for ref, (job, task) in running.items():
                if self._current(job, task, ref) and now >= task.deadline:
                    self._runtime.kill(ref)
                    self.counters["timeouts"] += 1
                    limit = self._timeout(job.request)
                    err = ProveTimeout(
                        f"job {job.request.job_id} ({task.label}): no result within {limit:.0f}s on {task.backend}"
                    )
                    self._failed(job, task, err, now, outcomes)
        return outcomes

    def _current(self, job: _Job, task: _Task, ref: Any) -> bool:
        """Is this attempt still the task's live one (its job not cancelled while the pool waited)?"""
        return self._jobs.get(job.request.job_id) is job and task.ref is ref

    def run(self, requests: Iterable[ProveRequest], *, deadline_s: float) -> dict[str, ProveOutcome]:
        """Prove `requests` and wait for all of them, at most `deadline_s` (a script's or a test's loop);
        jobs still unfinished at the deadline are cancelled and left out of the result."""
        for request in requests:
            self.submit(request)
        done: dict[str, ProveOutcome] = {}
        end = time.monotonic() + deadline_s
        while self._jobs and time.monotonic() < end:
            for outcome in self.poll(min(1.0, max(0.0, end - time.monotonic()))):
                done[outcome.job_id] = outcome
        for job_id in list(self._jobs):
            self.cancel(job_id)
        return done

    def stats(self) -> dict[str, Any]:
        """Counters and what is running where, for the dashboard."""
        by_backend = {b.value: 0 for b in self._runnable}
        with self._lock:
            for task in (t for j in self._jobs.values() for t in j.tasks):
                if task.backend is not None and task.ref is not None:
                    by_backend[task.backend.value] = by_backend.get(task.backend.value, 0) + 1
            pending = len(self._jobs)
        return {**self.counters, "pending": pending, "running": by_backend,
                "runnable": [b.value for b in self._runnable]}  # fmt: skip

    # ---- internals ----------------------------------------------------------------------------------

    def _start_due(self, now: float) -> None:
        chain = self._flags.prover_chain()
        busy = {b: 0 for b in self._runnable}
        due = []
        for job in self._jobs.values():
            for task in job.tasks:
                if task.ref is not None and task.backend is not None:
                    busy[task.backend] = busy.get(task.backend, 0) + 1
                elif task.ref is None and task.output is None and task.next_at <= now:
                    due.append((task.next_at, job, task))
        for _, job, task in sorted(due, key=lambda d: d[0]):
            if sum(busy.values()) >= self._config.max_concurrent:
                return
            free = [b for b in self._runnable if busy.get(b, 0) < self._slots.get(b, 0)]
            backend = choose_backend(chain, free, task.excluded, self._allow)
            if backend is None:
                continue  # nothing may run it now (mode, breakers, slots): it waits for a later poll
            self._start(job, task, backend, now)
            busy[backend] = busy.get(backend, 0) + 1

    def _start(self, job: _Job, task: _Task, backend: ProverBackend, now: float) -> None:
        r = job.request
        attempt = len(task.tried) + 1
        payload: tuple[str, Any, Any, bytes | None, Fault | None]
        if task.part == SEGMENT:
            name = f"segment:{r.job_id}:{task.index}:{attempt}:{backend.value}"
            payload = (SEGMENT, r.program, (r.input, task.index, r.segment_cycles), r.image_id, r.fault)
        elif task.part == COMPOSE:
            name = f"compose:{r.job_id}:{attempt}:{backend.value}"
            segments = tuple(t.output for t in job.tasks if t.part == SEGMENT)
            payload = (COMPOSE, r.program, segments, r.image_id, None)
        else:
            name = f"prove:{r.job_id}:{attempt}:{backend.value}"
            payload = (r.kind, r.program, r.input, r.image_id, r.fault)
        task.ref = self._runtime.submit(shape_for(backend, self._config), backend, payload, self._remote, name)
        task.backend, task.name = backend, name
        task.tried.append(backend)
        job.tried.append(backend)
        task.deadline = now + self._timeout(r)
        self.counters["started"] += 1

    def _timeout(self, request: ProveRequest) -> float:
        return request.timeout_s if request.timeout_s is not None else self._config.task_timeout_s

    def _next_retry(self, now: float) -> float:
        waiting = (t for j in self._jobs.values() for t in j.tasks if t.ref is None and t.output is None)
        return min((t.next_at for t in waiting if t.next_at > now), default=math.inf)

    def _allow(self, backend: ProverBackend) -> bool:
        service = BREAKER_OF.get(backend)
        return service is None or self._breakers is None or self._breakers.allow(service)

    def _record(self, job: _Job, task: _Task, outcome: str) -> None:
        assert task.backend is not None
        r = TaskRecord(job.request.job_id, task.part, task.index, len(task.tried), task.backend, task.name, outcome)
        self.records.append(r)

    def _proved(self, job: _Job, task: _Task, result: bytes, now: float, outcomes: list[ProveOutcome]) -> None:
        self._report(task.backend, ok=True)
        self._record(job, task, "ok")
        if task.part == SEGMENT:  # keep the receipt where it is (the object store); the join reads it there
            task.output, task.ref, task.deadline = task.ref, None, math.inf
            self.counters["segments"] += 1
            segments = [t for t in job.tasks if t.part == SEGMENT]
            if all(t.output is not None for t in segments):
                job.tasks.append(self._task(COMPOSE, 0, now))
            return
        self.counters["proved"] += 1
        self._jobs.pop(job.request.job_id, None)
        outcomes.append(ProveOutcome(job.request.job_id, result, None, len(job.tried), tuple(job.tried)))

    def _failed(self, job: _Job, task: _Task, err: Exception, now: float, outcomes: list[ProveOutcome]) -> None:
        if isinstance(err, ProveTaskCrashed):
            self.counters["crashes"] += 1
        oom = isinstance(err, ProveOutOfMemory)
        if oom:  # the job's size, not the backend's health: retried on a fresh start at most oom_attempts - 1 times
            self.counters["oom"] += 1
            task.oom += 1
            if task.oom >= self._config.oom_attempts:
                err = ProveOutOfMemory(f"out of memory on {task.oom} attempt(s), giving up: {err}")
                err.retryable = False  # type: ignore[misc]  # this job needs more than a task may have
        kind = classify(err)
        if kind is not ErrorKind.PERMANENT or oom:  # a bad input says nothing about the backend's health
            if not oom:  # nor does a big job: no breaker failure, but a GPU that ran short falls back to CPU
                self._report(task.backend, ok=False)
            if task.backend is not None:
                task.excluded.add(task.backend)
        self._record(job, task, f"{type(err).__name__}: {err}")
        task.ref, task.deadline = None, math.inf
        decision = task.retrier.on_failure(err, now)
        if decision.retry:
            self.counters["retries"] += 1
            task.next_at = decision.at
            return
        self.counters["failed"] += 1
        self._jobs.pop(job.request.job_id, None)
        self._kill_all(job)  # one part failed for good: the other segments' work cannot be used
        failure = ProveFailed(job.request.job_id, len(job.tried), err)
        outcomes.append(ProveOutcome(job.request.job_id, None, failure, len(job.tried), tuple(job.tried)))

    def _report(self, backend: ProverBackend | None, *, ok: bool) -> None:
        if self._breakers is None:
            return
        service = BREAKER_OF.get(backend) if backend is not None else None
        if service is not None:
            self._breakers.record(service, ok)
        self._breakers.record_outcome("prove", ok)


def _slots(shape: TaskShape, nodes: Sequence[Mapping[str, float]], cap: int) -> int:
    """How many tasks of `shape` the cluster runs at once (so none waits in Ray's queue while its
    deadline runs); `cap` when the shape takes no CPU or GPU (a remote call)."""
    total = 0
    for resources in nodes:
        per_node = [math.floor(resources.get("CPU", 0.0) / shape.num_cpus)] if shape.num_cpus else []
        per_node += [math.floor(resources.get("GPU", 0.0) / shape.num_gpus)] if shape.num_gpus else []
        total += min(per_node) if per_node else cap
    return min(total, cap)


def _with_image_id(request: ProveRequest) -> ProveRequest:
    return replace(request, image_id=expected_image_id(request.kind, request.program))
