"""The cluster's proving capacity, from `zkray calibrate` files: how long a job takes here, and what GPU
memory a prove task must declare.

Why: the node claims a job only if it can prove and submit it before the claim deadline. A fixed guess
(`initial_speed_hz`) claims jobs a slow cluster then misses, and declines jobs a fast one could take; the
speed measured by `zkray calibrate` on each kind of node is the better prior, and real proofs refine it.

- **Per guest size.** A proof costs `fixed_s + s_per_row · rows` (the calibration's fit), so a small job
  is dominated by its fixed part and a large one by its rows: one cycles-per-second figure cannot price
  both. `eta_s(cycles)` prices a job on its segments, as `Calibration.eta_s` does.
- **Per node.** One calibration file per kind of node (a directory of them: the same instance type is the
  same speed, and an autoscaled node that does not exist yet is already priced). A live node is matched
  to the file with its CPU and GPU counts; one with no match is priced as the slowest file (a claim
  missed costs more than a claim declined).
- **The cluster.** One job is one task on one node, so its own proving time is that of the slowest live
  node it may land on; the work ahead of it in the pool (`backlog_cycles`) is shared by every live node at
  its calibrated peak rate. Adding a node shortens the wait, losing one lengthens it.
- **GPU memory.** A GPU task declares the memory its segment needs (`gpu_memory_gib`: bytes per row from
  the calibration × the largest segment the verifier accepts, over the 85 % headroom); nodes declare
  `gpu_memory_gib` as a Ray custom resource (the sum over their GPUs) and `zkray.node.affinity` hides the
  GPUs of a node whose per-GPU memory is smaller, so such a task is never sent there.

`python -m zkray.node.capacity` prints the resources a machine declares (`ray start --resources`).

Pure but for the loading (reads files) and `main`; the live nodes come from a callable (the pool's runtime), so the
arithmetic is tested with resource dicts.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from zkray.calibrate import DEFAULT_PATH, GPU_HEADROOM, Calibration, CalibrationError, Gpu, detect_gpus
from zkray.calibrate import load as load_file
from zkray.policy.profitability import ProvingSpeed

GPU_MEMORY_RESOURCE = "gpu_memory_gib"
"""The Ray custom resource a GPU node declares (GiB over all its GPUs) and a GPU prove task requests."""
GiB = 1 << 30

Resources = Mapping[str, float]


def load_calibrations(path: Path) -> list[Calibration]:
    """The calibrations at `path`: one file, or every `*.json` of a directory (one per node type).
    A missing path is no calibration ([]); a file that does not parse raises CalibrationError."""
    path = path.expanduser()
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise CalibrationError(f"{path} holds no calibration files: run `zkray calibrate -o {path}/<node>.json`")
        return [load_file(f) for f in files]
    if not path.exists():
        return []
    return [load_file(path)]


def gpu_memory_need_gib(cal: Calibration, log_rows: int | None = None, headroom: float = GPU_HEADROOM) -> float:
    """GiB one GPU task declares for a segment of 2^log_rows rows (default: the largest the verifier
    accepts, so no segment the node can make asks for more), rounded up to 1/100 GiB."""
    rows = 1 << (cal.max_log_rows_secure if log_rows is None else log_rows)
    return math.ceil(100 * cal.memory.bytes_per_row * rows / headroom / GiB) / 100


def per_gpu_memory_gib(resources: Resources) -> float:
    """Memory of one GPU of a node (its declared total over its GPUs); 0 when it declares none."""
    gpus = resources.get("GPU", 0.0)
    return resources.get(GPU_MEMORY_RESOURCE, 0.0) / gpus if gpus else 0.0


def without_small_gpus(resources: Resources, need_gib: float) -> dict[str, float]:
    """The node as a GPU task needing `need_gib` per GPU sees it: its GPUs hidden when each has less
    (or it declares no memory), so placement never counts it for such a task."""
    out = dict(resources)
    if need_gib > 0 and out.get("GPU", 0.0) and per_gpu_memory_gib(out) < need_gib:
        out["GPU"] = 0.0
    return out


def match(calibrations: Sequence[Calibration], resources: Resources) -> Calibration:
    """The calibration of a node: the one made on a node with its CPU and GPU counts, else the slowest."""
    cpus, gpus = round(resources.get("CPU", 0.0)), round(resources.get("GPU", 0.0))
    for cal in calibrations:
        if cal.cpu_count == cpus and len(cal.gpus) == gpus:
            return cal
    return min(calibrations, key=lambda c: c.peak_khz)


def proves(resources: Resources) -> bool:
    """Whether a node takes prove tasks at all (a head started with no CPUs does not)."""
    return resources.get("CPU", 0.0) > 0 or resources.get("GPU", 0.0) > 0


def cluster_eta_s(priced: Sequence[Calibration], cycles: int, backlog_cycles: int = 0) -> float:
    """Seconds until a job of `cycles` is proven on nodes calibrated as `priced` (one per live node):
    the backlog shared at every node's peak rate, then the job on the slowest node. inf with no node."""
    if not priced:
        return math.inf
    own = max(cal.eta_s(cycles) for cal in priced)
    rate = sum(cal.peak_khz * 1000.0 for cal in priced)
    return own + (max(backlog_cycles, 0) / rate if rate > 0 else math.inf)


@dataclass
class ClusterCapacity:
    """Calibrations per node type over the live nodes; the node's ProverService asks it for a job's speed.

    `nodes` returns the live nodes' total resources (the pool's runtime `nodes`); it is read at most every
    `refresh_s`, so pricing a job costs no Ray call most of the time."""

    calibrations: list[Calibration]
    nodes: Callable[[], Sequence[Resources]] | None = None
    gpu_memory_gib: float = 0.0
    refresh_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _priced: list[Calibration] = field(default_factory=list, init=False)
    _read_at: float = field(default=-math.inf, init=False)

    def __post_init__(self) -> None:
        if not self.calibrations:
            raise CalibrationError("a capacity needs at least one calibration: run `zkray calibrate`")

    def priced_nodes(self) -> list[Calibration]:
        """The calibration of each live proving node (this machine's own files when no nodes are known)."""
        now = self.clock()
        if self.nodes is not None and now - self._read_at >= self.refresh_s:
            self._read_at = now
            self._priced = [match(self.calibrations, r) for r in self.nodes() if proves(r)]
        return self._priced or [min(self.calibrations, key=lambda c: c.peak_khz)]

    def watching(self, nodes: Callable[[], Sequence[Resources]]) -> ClusterCapacity:
        """This capacity over the live nodes `nodes` returns (the pool's runtime `nodes`)."""
        self.nodes, self._read_at = nodes, -math.inf
        return self

    def eta_s(self, cycles: int, backlog_cycles: int = 0) -> float:
        return cluster_eta_s(self.priced_nodes(), cycles, backlog_cycles)

    def speed(self, cycles: int, backlog_cycles: int = 0) -> ProvingSpeed:
        """The speed at which `check_deadline` sees this job proven: cycles over the cluster's eta."""
        eta = self.eta_s(max(cycles, 1), backlog_cycles)
        return ProvingSpeed(max(cycles, 1) / eta if eta > 0 else math.inf, samples=1)

    def job_hz(self) -> float:
        """The peak rate one job sees: the slowest live node's (a job is one task on one node). What the
        node's single speed figure (`ProverService.speed`, used before a job's size is known) starts from."""
        return min(cal.peak_khz for cal in self.priced_nodes()) * 1000.0

    def peak_hz(self) -> float:
        """The live cluster's calibrated throughput, rows (cycles) per second at each node's peak."""
        return sum(cal.peak_khz * 1000.0 for cal in self.priced_nodes())


def load_capacity(
    path: Path | None = DEFAULT_PATH,
    nodes: Callable[[], Sequence[Resources]] | None = None,
    gpu_memory_gib: float | None = None,
) -> ClusterCapacity | None:
    """The node's capacity from its calibration file(s); None without any (the node then assumes
    `initial_speed_hz`). `gpu_memory_gib` None: from the calibration's segment memory."""
    calibrations = load_calibrations(path) if path is not None else []
    if not calibrations:
        return None
    need = gpu_memory_gib if gpu_memory_gib is not None else max(gpu_memory_need_gib(c) for c in calibrations)
    return ClusterCapacity(calibrations, nodes, gpu_memory_gib=need)


def gpu_task_memory_gib(capacity: ClusterCapacity | None, configured: float | None) -> float:
    """What a GPU task declares: the configured figure, else the calibration's segment need, else 0
    (undeclared: without a calibration the node cannot know, and GPU nodes need not declare memory)."""
    if configured is not None:
        return configured
    return capacity.gpu_memory_gib if capacity is not None else 0.0


def ray_resources(gpus: Sequence[Gpu]) -> dict[str, float]:
    """The custom resources a node declares to Ray (`ray start --resources`): its GPUs' memory in GiB,
    summed, rounded down to 1/100 GiB (a task must never be promised memory the GPU lacks); {} without GPUs."""
    total = sum(g.memory_bytes for g in gpus)
    return {GPU_MEMORY_RESOURCE: math.floor(100 * total / GiB) / 100} if total else {}


def main() -> None:
    """`python -m zkray.node.capacity`: this machine's resources as JSON, for `ray start --resources=…`
    on machines Ray's launcher does not describe itself (cluster-local.yaml)."""
    print(json.dumps(ray_resources(detect_gpus())))


if __name__ == "__main__":
    main()
