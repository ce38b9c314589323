"""Cache affinity: jobs for the same program prefer the node that already holds it.

A node that proved an image before has its ELF (and the object-store copy of it) locally; sending the
next job for that image to the same node skips the transfer and the cold load. The owner of an image
is chosen by a consistent hash ring over the live nodes (`zkray.policy.hashring`), so a node joining
or leaving moves only about 1/N of the images, and the others keep their warm nodes.

The preference is soft: `AffinityRuntime` passes the owner as a Ray node-affinity hint that spills to
another node when the owner is busy, full or dead, so affinity never costs throughput or liveness. For
a shape only some nodes can run (a GPU task), the owner is the first node clockwise from the image's
hash that fits it, so GPU and CPU jobs each get a stable owner among the nodes that can run them.

GPU memory: built with `gpu_memory_gib` (what a GPU task's segment needs, `zkray.node.capacity`), the
runtime declares it on every GPU task (a Ray custom resource GPU nodes declare) and hides from the pool the
GPUs of nodes whose per-GPU memory is smaller, so the pool neither counts their slots nor sends a task
there; with no such node left, GPU is not runnable and jobs fall back to CPU.

This module does no Ray calls itself (Ray stays behind `RayRuntime`); it wraps any runtime with
`alive_nodes()` and a `submit(..., node_id=)` keyword.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from zkray.node.capacity import GPU_MEMORY_RESOURCE, without_small_gpus
from zkray.node.proving.placement import TaskShape, fits
from zkray.node.proving.request import Fault, RemoteProver
from zkray.policy.degradation import ProverBackend
from zkray.policy.hashring import HashRing

log = logging.getLogger("zkray.node.affinity")
NodeList = list[tuple[str, Mapping[str, float]]]
ProveArgs = tuple[str, Any, Any, bytes | None, Fault | None]
"""What the pool submits: (kind, program, input, image id, fault)."""


class NodeRuntime(Protocol):
    """What affinity needs beyond the pool's `Runtime`: node ids, and a per-task node preference."""

    def alive_nodes(self) -> NodeList: ...

    def submit(
        self,
        shape: TaskShape,
        backend: ProverBackend,
        request: ProveArgs,
        remote: RemoteProver | None,
        name: str,
        *,
        node_id: str | None = None,
    ) -> Any: ...

    def wait(self, refs: Sequence[Any], timeout_s: float) -> list[Any]: ...

    def result(self, ref: Any) -> bytes: ...

    def kill(self, ref: Any) -> None: ...


class AffinityPlacer:
    """The ring over live nodes and their resources; `owner(key, shape)` is the preferred node."""

    def __init__(self, virtual_nodes: int = 64) -> None:
        self._ring = HashRing(virtual_nodes=virtual_nodes)
        self._resources: dict[str, Mapping[str, float]] = {}

    @property
    def nodes(self) -> frozenset[str]:
        return self._ring.nodes

    def update(self, nodes: NodeList) -> tuple[set[str], set[str]]:
        """Make the ring the live nodes; returns (joined, left) so callers can log the change."""
        live = {node_id: resources for node_id, resources in nodes}
        joined, left = set(live) - self._ring.nodes, self._ring.nodes - set(live)
        for node_id in left:
            self._ring.remove(node_id)
        for node_id in joined:
            self._ring.add(node_id)
        self._resources = live
        return joined, left

    def owner(self, key: str, shape: TaskShape, busy: Mapping[str, int] | None = None) -> str | None:
        """The first node clockwise from `key` that can run `shape` and has a free slot for it (`busy`: tasks
        this node already runs); the first that can run it when all are full; None when none can.

        Walking on to the ring's next node when the owner is full (consistent hashing with bounded loads)
        keeps each program on a stable pair of nodes under load, where a spill to any free node would
        scatter it over the whole cluster."""
        if not len(self._ring):
            return None
        busy = busy or {}
        fitting = [n for n in self._ring.lookup_n(key, len(self._ring)) if fits(shape, self._resources.get(n, {}))]
        free = [n for n in fitting if busy.get(n, 0) < slots(shape, self._resources[n])]
        return free[0] if free else (fitting[0] if fitting else None)


def slots(shape: TaskShape, resources: Mapping[str, float]) -> int:
    """How many tasks of `shape` one node runs at once."""
    counts = [math.floor(resources.get("CPU", 0.0) / shape.num_cpus)] if shape.num_cpus else []
    counts += [math.floor(resources.get("GPU", 0.0) / shape.num_gpus)] if shape.num_gpus else []
    return min(counts) if counts else 1_000_000


def program_key(request: ProveArgs) -> str:
    """The affinity key of a prove request: its image id when known, else a digest of the program
    (a guest name or ELF bytes; an object-store ref has no stable content key, so it falls back to its id)."""
    kind, program, _input, image_id, _fault = request
    if image_id is not None:
        return image_id.hex()
    if isinstance(program, str):
        return f"{kind}:{program}"
    if isinstance(program, bytes | bytearray):
        return hashlib.blake2b(bytes(program), digest_size=16).hexdigest()
    return f"{kind}:{program!r}"


class AffinityRuntime:
    """A pool `Runtime` that sends each prove task to its program's owner node, as a soft preference.

    `key_of` names a request's program (default `program_key`); the node's wiring passes its image id
    when the program travels as an object-store ref. The ring follows the cluster: `nodes()` (what
    `ProvingPool.refresh_cluster` calls) updates it, and `submit` re-reads the nodes at most every
    `refresh_s`, so a join or a loss is seen without the pool asking. `placements` counts tasks per
    preferred node (None: no preference could be made). `gpu_memory_gib` (per GPU task, 0: undeclared):
    GPU tasks request it, and `nodes()` shows GPUs with less memory as absent.
    """

    def __init__(
        self,
        inner: NodeRuntime,
        placer: AffinityPlacer | None = None,
        *,
        key_of: Callable[[ProveArgs], str] | None = None,
        refresh_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        gpu_memory_gib: float = 0.0,
    ) -> None:
        self._inner = inner
        self.gpu_memory_gib = gpu_memory_gib
        self.placer = placer or AffinityPlacer()
        self._key_of = key_of or program_key
        self._refresh_s = refresh_s
        self._clock = clock
        self._refreshed_at = -float("inf")
        self._placed: dict[Any, str] = {}  # task ref -> the node it was sent to, until its result is read
        self._warned: set[str] = set()  # GPU nodes already reported as declaring no GPU memory
        self.placements: dict[str | None, int] = {}

    def _refresh(self) -> NodeList:
        nodes = self._inner.alive_nodes()
        self.placer.update(nodes)
        self._refreshed_at = self._clock()
        return nodes

    def nodes(self) -> list[Mapping[str, float]]:
        """The live nodes as the pool should count them: GPUs too small for a GPU task hidden. A GPU node that
        declares no memory at all is hidden too (it may be smaller), and said once in the log, since that is
        a configuration slip rather than a small GPU."""
        nodes = self._refresh()
        for node_id, resources in nodes:
            undeclared = resources.get("GPU", 0.0) and GPU_MEMORY_RESOURCE not in resources
            if self.gpu_memory_gib and undeclared and node_id not in self._warned:
                self._warned.add(node_id)
                log.warning("GPU node %s declares no %s resource: GPU tasks (%.2f GiB each) skip it; declare it "
                            "(cluster.yaml resources, or ray start --resources from python -m zkray.node.capacity) "
                            "or set gpu_memory_gib=0", node_id[:12], GPU_MEMORY_RESOURCE, self.gpu_memory_gib)
        return [without_small_gpus(resources, self.gpu_memory_gib) for _node_id, resources in nodes]

    def submit(
        self,
        shape: TaskShape,
        backend: ProverBackend,
        request: ProveArgs,
        remote: RemoteProver | None,
        name: str,
    ) -> Any:
        """Start the task with its owner node as the preference (none for remote calls: they take no slot
        worth keeping warm)."""
        if self._clock() - self._refreshed_at >= self._refresh_s:
            self._refresh()
        if backend is ProverBackend.GPU and self.gpu_memory_gib:
            shape = replace(shape, gpu_memory_gib=self.gpu_memory_gib)
        node_id = None
        if backend is not ProverBackend.REMOTE:
            busy: dict[str, int] = {}
            for node in self._placed.values():
                busy[node] = busy.get(node, 0) + 1
            node_id = self.placer.owner(self._key_of(request), shape, busy)
        self.placements[node_id] = self.placements.get(node_id, 0) + 1
        ref = self._inner.submit(shape, backend, request, remote, name, node_id=node_id)
        if node_id is not None:
            self._placed[ref] = node_id
        return ref

    def wait(self, refs: Sequence[Any], timeout_s: float) -> list[Any]:
        return self._inner.wait(refs, timeout_s)

    def result(self, ref: Any) -> bytes:
        self._placed.pop(ref, None)
        return self._inner.result(ref)

    def kill(self, ref: Any) -> None:
        self._placed.pop(ref, None)
        self._inner.kill(ref)
