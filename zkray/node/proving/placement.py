"""Where a prove task may run: its resource shape per backend, and which backends the cluster can run.

Pure functions over the alive nodes' resource dicts (as `ray.nodes()` reports them), so the GPU logic is
tested without GPUs. A shape is checked against each node, not the cluster total: a task asking for two
GPUs on a cluster of one-GPU nodes would wait forever, and a task no node can run is never scheduled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zkray.node.config import ProvingConfig
from zkray.node.proving.errors import NoCapableNode
from zkray.policy.degradation import ProverBackend

B = ProverBackend


@dataclass(frozen=True)
class TaskShape:
    """The resources one prove task requests."""

    num_cpus: float
    num_gpus: float = 0.0
    gpu_memory_gib: float = 0.0  # per GPU, what its segment needs (zkray.node.capacity); 0: not declared
    memory_bytes: int | None = None  # address space the task may grow by (RLIMIT_AS in the worker); None: no limit

    def ray_options(self) -> dict[str, Any]:
        """Options for `.options(...)`; `num_gpus` only when the task wants a GPU, and its memory as the
        `gpu_memory_gib` custom resource GPU nodes declare (Ray then never puts it where there is less)."""
        options: dict[str, Any] = {"num_cpus": self.num_cpus}
        if self.num_gpus:
            options["num_gpus"] = self.num_gpus
            if self.gpu_memory_gib:
                options["resources"] = {"gpu_memory_gib": self.gpu_memory_gib * max(self.num_gpus, 1.0)}
        return options


def shape_for(backend: ProverBackend, config: ProvingConfig) -> TaskShape:
    """The shape of a task on `backend`; a remote call only waits, so it has no memory budget."""
    budget = None if config.task_memory_mib is None else config.task_memory_mib * 1024 * 1024
    if backend is B.GPU:
        return TaskShape(config.cpus_per_gpu_task, config.gpus_per_task, memory_bytes=budget)
    if backend is B.REMOTE:
        return TaskShape(config.remote_cpus_per_task)
    return TaskShape(config.cpus_per_task, memory_bytes=budget)


def fits(shape: TaskShape, resources: Mapping[str, float]) -> bool:
    """Whether one node with `resources` (totals) can ever run a task of `shape`: CPUs, GPUs, and each
    GPU's memory (the node's declared `gpu_memory_gib` over its GPUs) when the task needs some."""
    gpus = resources.get("GPU", 0.0)
    if shape.num_gpus and shape.gpu_memory_gib and resources.get("gpu_memory_gib", 0.0) < shape.gpu_memory_gib * gpus:
        return False
    return resources.get("CPU", 0.0) >= shape.num_cpus and gpus >= shape.num_gpus


def capable_nodes(shape: TaskShape, nodes: Iterable[Mapping[str, float]]) -> int:
    """How many nodes could run a task of `shape`."""
    return sum(1 for resources in nodes if fits(shape, resources))


def runnable_backends(
    nodes: Sequence[Mapping[str, float]], config: ProvingConfig, *, remote_configured: bool
) -> tuple[ProverBackend, ...]:
    """The configured backends this cluster can run, in fallback order (remote → GPU → CPU).

    GPU only where some node has the GPUs a task asks for (and `use_gpu`); remote only when a remote
    prover is configured; CPU when some node has the CPU slots.
    """
    out = []
    for backend in (B.REMOTE, B.GPU, B.CPU):
        if backend not in config.backends:
            continue
        if backend is B.REMOTE and not remote_configured:
            continue
        if backend is B.GPU and not config.use_gpu:
            continue
        if capable_nodes(shape_for(backend, config), nodes):
            out.append(backend)
    return tuple(out)


def require_runnable(nodes: Sequence[Mapping[str, float]], config: ProvingConfig, *, remote_configured: bool) -> None:
    """Raise NoCapableNode when no configured backend can run anywhere in this cluster."""
    if not runnable_backends(nodes, config, remote_configured=remote_configured):
        biggest = max((dict(n) for n in nodes), key=lambda r: r.get("CPU", 0.0), default={})
        raise NoCapableNode(
            f"no node can run a prove task: backends {[b.value for b in config.backends]}, cpus_per_task="
            f"{config.cpus_per_task}, gpus_per_task={config.gpus_per_task}; the largest node has "
            f"{biggest.get('CPU', 0)} CPU and {biggest.get('GPU', 0)} GPU. Lower the per-task request or add a node"
        )


def choose_backend(
    chain: Sequence[ProverBackend],
    runnable: Sequence[ProverBackend],
    excluded: Iterable[ProverBackend],
    allow: Callable[[ProverBackend], bool],
) -> ProverBackend | None:
    """The first backend of the degradation policy's `chain` the cluster can run, not excluded for this job
    (it already failed it) and allowed by its breaker; CPU is never excluded while runnable, because it is
    the last resort. None when nothing may run now (the job waits)."""
    skip = set(excluded) - {B.CPU}
    for backend in chain:
        if backend in runnable and backend not in skip and allow(backend):
            return backend
    return None
