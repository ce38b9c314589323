"""Every Ray call the proving pool makes, behind one small class (the pool's logic never imports Ray).

`ray.remote` is applied here, once, to each task body (`run_prove`; for ELF jobs `run_segment` and
`run_compose`), with `max_retries=0`: retries are the pool's decision (retry policy, fallback backend,
breakers), not Ray's silent re-execution. A hung task is killed with `ray.cancel(force=True)`, which
ends its worker process; Ray starts a fresh one. The task's shape carries its memory budget, passed to
the body (`memory_budget`), which fails the proof's allocation inside the task. Ray's own memory monitor
(which kills a worker when the whole node passes 95 %) stays as the last line: it picks a task by its
own policy, maybe another job's, so it arrives here as a crash (retried), not as this job's OOM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ray
from ray import exceptions as rex
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from zkray.node.proving.errors import ProveOutOfMemory, ProveTaskCrashed
from zkray.node.proving.placement import TaskShape
from zkray.node.proving.request import COMPOSE, SEGMENT, Fault, RemoteProver, run_compose, run_prove, run_segment
from zkray.policy.degradation import ProverBackend

_prove_task = ray.remote(max_retries=0, retry_exceptions=False)(run_prove)
_segment_task = ray.remote(max_retries=0, retry_exceptions=False)(run_segment)
_compose_task = ray.remote(max_retries=0, retry_exceptions=False)(run_compose)

# Errors that mean the worker (or its node) went away: the task may succeed on a fresh worker.
_CRASHES = (
    rex.WorkerCrashedError,
    rex.OutOfMemoryError,
    rex.NodeDiedError,
    rex.ObjectLostError,
    rex.TaskUnschedulableError,
)


class RayRuntime:
    """Submits prove tasks to the connected Ray cluster and watches them."""

    def __init__(self, task: Any = None) -> None:
        # `task`: another ray.remote function with run_prove's signature (the multi-node tests' tracer)
        self._task = task if task is not None else _prove_task

    def nodes(self) -> list[Mapping[str, float]]:
        """Total resources of every alive node."""
        return [dict(n["Resources"]) for n in ray.nodes() if n.get("Alive")]

    def alive_nodes(self) -> list[tuple[str, Mapping[str, float]]]:
        """(node id, total resources) of every alive node, for cache affinity (`zkray.node.affinity`)."""
        return [(n["NodeID"], dict(n["Resources"])) for n in ray.nodes() if n.get("Alive")]

    def submit(
        self,
        shape: TaskShape,
        backend: ProverBackend,
        request: tuple[str, Any, Any, bytes | None, Fault | None],
        remote: RemoteProver | None,
        name: str,
        *,
        node_id: str | None = None,
    ) -> Any:
        """Start one prove task; `request` is (kind, program, input, image id, fault). Program and input
        may be ObjectRefs (top-level arguments, so Ray resolves them without a copy through the driver).
        `node_id` is a soft preference: a busy, full or dead node spills the task to another node."""
        kind, program, input_, image_id, fault = request
        options: dict[str, Any] = {**shape.ray_options(), "name": name}
        budget: dict[str, Any] = {} if shape.memory_bytes is None else {"memory_bytes": shape.memory_bytes}
        if node_id is not None:
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
                node_id, soft=True, _spill_on_unavailable=True
            )
        if kind == SEGMENT:  # input = (job input, index, segment cycles); the ELF and input may be refs
            data, index, segment_cycles = input_
            return _segment_task.options(**options).remote(
                backend, program, data, index, segment_cycles, fault, **budget
            )
        if kind == COMPOSE:  # input = the finished segments' refs: top-level arguments, resolved by Ray in the
            # worker straight from the object store, never copied through this process
            return _compose_task.options(**options).remote(backend, program, image_id, *input_, **budget)
        return self._task.options(**options).remote(backend, kind, program, input_, image_id, fault, remote, **budget)

    def wait(self, refs: Sequence[Any], timeout_s: float) -> list[Any]:
        """The refs that are done, waiting up to `timeout_s` for the first one."""
        if not refs:
            return []
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=max(0.0, timeout_s))
        if not ready:
            return []
        ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0)
        return ready

    def result(self, ref: Any) -> bytes:
        """The task's receipt bytes, or the task's own error (a crashed worker becomes ProveTaskCrashed)."""
        try:
            encoded: bytes = ray.get(ref)
        except rex.RayTaskError as err:
            if isinstance(err.cause, ProveOutOfMemory):  # the task's allocation failed (its budget or the node)
                raise err.cause from None
            if isinstance(err.cause, MemoryError):  # outside the budgeted body (a remote call, a drill)
                raise ProveOutOfMemory(f"out of memory in the prove task: {err.cause}") from None
            if isinstance(err.cause, Exception):
                raise err.cause from None  # the task's own error, typed as it was raised
            raise
        except _CRASHES as err:
            raise ProveTaskCrashed(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from err
        return encoded

    def kill(self, ref: Any) -> None:
        """Stop a task for good, ending its worker process if it is running."""
        ray.cancel(ref, force=True)
