"""`zkray calibrate`: this node's proving speed per trace size, and the memory a segment needs.

Why: the scheduler claims a job only if it can be proven before the claim deadline, so it needs the
node's measured speed (the anchors' "peak kHz": thousands of trace rows proven per second; one row is one
guest cycle), and a GPU task must never get a segment whose LDE, Merkle trees and working arrays exceed
the GPU's memory. Speed is measured with the built-in Fibonacci AIR at several sizes, the median of a few
proofs per size, each on a different input: the proof-of-work nonce search depends on the transcript, so
one input's lucky or unlucky grinding must not set the figure. Every proof is verified (only real proofs
count), and the medians are fitted as `seconds = fixed_s + s_per_row · rows`; memory per row is both
modelled (LDE + Merkle, from the AIR's shape) and measured (tracemalloc peak of one proof: the device
runs the same algorithm, so it allocates the same arrays). `measure()` is the pure part tests call with
small sizes; the command adds GPU detection, a table and the JSON file the scheduler reads.

On a Ray cluster, `zkray calibrate --cluster` (on the head) measures one live node of each kind (its CPU
and GPU counts) inside a Ray task pinned to that node and taking all of its CPUs, and writes one file per
kind into a directory the node reads (`ZKRAY_CALIBRATION`): the cluster's capacity is then the calibrated
speed of whatever nodes are live (`zkray.node.capacity`), including autoscaled ones of a kind measured
before. Ray is imported only by that command.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import subprocess
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numba
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zkray.policy.profitability import ProvingSpeed
from zkray.zkvm import proof as proof_codec
from zkray.zkvm.air import Air
from zkray.zkvm.guests import BUILTIN_GUESTS
from zkray.zkvm.params import DEFAULT_PARAMS, MIN_SECURITY_BITS, StarkParams
from zkray.zkvm.proof import quotient_chunks
from zkray.zkvm.prover import ProverStats, prove
from zkray.zkvm.verifier import verify_seal

DEFAULT_PATH = Path("~/.zkray/calibration.json")
DEFAULT_CLUSTER_DIR = Path("~/.zkray/calibrations")
CALIBRATION_GUEST = "fib_input_initial"  # the fib AIR with a chosen start, so each repeat is a new input
FORMAT_VERSION = 1
DIGEST_BYTES = 32
PHASES = ("check", "lde", "commit", "constraints", "quotient", "ood", "deep", "fri", "queries")
MODEL_WORKING_FACTOR = 3.0  # measured peak / (LDE + Merkle) was ~2.4 for fib; used when nothing is measured
GPU_HEADROOM = 0.85  # leave room for the CUDA context, the allocator's pools and fragmentation


class CalibrationError(Exception):
    """A calibration file is missing or unreadable; re-run `zkray calibrate`."""


class Point(BaseModel):
    """One measured proof: size, wall time and the prover's per-phase seconds."""

    model_config = ConfigDict(frozen=True)
    log_rows: int
    seconds: float
    phases: dict[str, float]

    @property
    def rows(self) -> int:
        return 1 << self.log_rows

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def khz(self) -> float:
        return self.rows_per_s / 1000.0


class MemoryNeeds(BaseModel):
    """Bytes per trace row: the resident LDE and Merkle trees (model) and the measured peak."""

    model_config = ConfigDict(frozen=True)
    lde_bytes_per_row: int = Field(description="main + aux + quotient LDE matrices (uint32)")
    merkle_bytes_per_row: int = Field(description="every level of every trace, quotient and FRI tree")
    measured_bytes_per_row: int | None = Field(None, description="tracemalloc peak of one proof + its trace")

    @property
    def bytes_per_row(self) -> int:
        """What a segment is budgeted per row: the measurement, else the model with working space."""
        if self.measured_bytes_per_row is not None:
            return self.measured_bytes_per_row
        return math.ceil((self.lde_bytes_per_row + self.merkle_bytes_per_row) * MODEL_WORKING_FACTOR)


class Gpu(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    memory_bytes: int


class Calibration(BaseModel):
    """The file `zkray calibrate` writes and the scheduler reads."""

    model_config = ConfigDict(frozen=True)
    version: int = FORMAT_VERSION
    created_at: str
    host: str
    cpu_count: int
    threads: int
    backend: str = "cpu"
    air: str
    main_width: int
    log_blowup: int
    max_log_rows_secure: int = Field(description="largest segment the verifier accepts (>= 100-bit security)")
    points: list[Point]
    fixed_s: float = Field(description="seconds per proof regardless of size (fit)")
    s_per_row: float = Field(description="seconds per trace row (fit)")
    memory: MemoryNeeds
    gpus: list[Gpu] = Field(default_factory=list)

    @property
    def peak_khz(self) -> float:
        return max(p.khz for p in self.points)

    def max_log_rows(self, memory_bytes: int, headroom: float = GPU_HEADROOM) -> int:
        """The largest segment (log2 rows) that fits `memory_bytes` and the security limit; -1 if none."""
        rows = int(memory_bytes * headroom) // self.memory.bytes_per_row
        return min(rows.bit_length() - 1, self.max_log_rows_secure)

    def segment_log_rows(self) -> int:
        """Segment size for this node: the security limit, lowered by the smallest GPU's memory."""
        limits = [self.max_log_rows(g.memory_bytes) for g in self.gpus]
        return min([self.max_log_rows_secure, *limits])

    def eta_s(self, cycles: int) -> float:
        """Seconds to prove `cycles` rows here: full segments plus the last one padded to a power of two."""
        if cycles <= 0:
            return 0.0
        seg = 1 << max(self.segment_log_rows(), 0)
        full, rest = divmod(cycles, seg)
        eta = full * (self.fixed_s + self.s_per_row * seg)
        if rest:
            eta += self.fixed_s + self.s_per_row * (1 << max((rest - 1).bit_length(), 4))
        return eta

    def proving_speed(self) -> ProvingSpeed:
        """The scheduler's speed estimate seeded with the peak rate; real proofs then refine it."""
        return ProvingSpeed(cycles_per_s=self.peak_khz * 1000.0, samples=1)


def memory_model(air: Air, params: StarkParams = DEFAULT_PARAMS) -> MemoryNeeds:
    """LDE and Merkle bytes per trace row for `air` (no measurement)."""
    blowup = 1 << params.log_blowup
    lde_cols = air.main_width + 4 * air.aux_width + 4 * quotient_chunks(air)
    trees = 3 if air.aux_width else 2
    # A tree over L leaves keeps ~2L digests; FRI's first layer has blowup/arity leaves per row, then /arity.
    arity = 1 << params.fri_log_arity
    fri_leaves = blowup / (arity - 1)
    merkle = (trees * blowup + fri_leaves) * 2 * DIGEST_BYTES
    return MemoryNeeds(lde_bytes_per_row=lde_cols * blowup * 4, merkle_bytes_per_row=math.ceil(merkle))


def max_secure_log_rows(params: StarkParams = DEFAULT_PARAMS) -> int:
    """Largest log2 trace length whose LDE domain still gives >= 100 bits (the verifier's bound)."""
    log_n = 4
    while log_n < 30 and params.security_bits(log_n + 1 + params.log_blowup) >= MIN_SECURITY_BITS:
        log_n += 1
    return log_n


def fit_linear(rows: Sequence[int], seconds: Sequence[float]) -> tuple[float, float]:
    """Least-squares `seconds = a + b·rows` with a >= 0 and b > 0 (through the origin otherwise)."""
    x, y = np.asarray(rows, dtype=float), np.asarray(seconds, dtype=float)
    if len(x) >= 2 and np.ptp(x) > 0:
        b, a = np.polyfit(x, y, 1)
        if a >= 0 and b > 0:
            return float(a), float(b)
    return 0.0, float((x @ y) / (x @ x))


def measure(log_sizes: Sequence[int], repeat: int = 1, memory_log_rows: int | None = None,
            gpus: Sequence[Gpu] = (), progress: Callable[[Point], None] | None = None) -> Calibration:
    """Prove at each 2^k rows (median of `repeat` inputs), verify each proof, fit, and measure memory."""
    if not log_sizes or repeat < 1:
        raise ValueError("calibrate needs at least one size and repeat >= 1")
    secure = max_secure_log_rows()
    if not all(4 <= k <= secure for k in log_sizes):
        raise ValueError(f"log2 sizes must be in 4..{secure}, got {sorted(log_sizes)}")
    guest = BUILTIN_GUESTS[CALIBRATION_GUEST]
    air = guest.air
    warm_trace, warm_public, _ = guest.witness(guest.parse_input({"n": 100, "a": 1, "b": 1}))
    prove(air, warm_trace, warm_public)  # compile the kernels first; compile time is not proving speed
    points = []
    for log_n in sorted(set(log_sizes)):
        runs = []
        for i in range(repeat):
            start_values = {"a": 1 + i, "b": 1 + 2 * i}  # a different transcript, so different grinding
            trace, public, _ = guest.witness(guest.parse_input({"n": (1 << log_n) - 1, **start_values}))
            stats = ProverStats()
            start = time.perf_counter()
            proof = prove(air, trace, public, stats=stats)
            runs.append(Point(log_rows=log_n, seconds=time.perf_counter() - start, phases=dict(stats.seconds)))
            verify_seal(air, proof_codec.encode(proof), public, DEFAULT_PARAMS)  # count only real proofs
        median = sorted(runs, key=lambda p: p.seconds)[(len(runs) - 1) // 2]
        points.append(median)
        if progress is not None:
            progress(median)
    fixed_s, s_per_row = fit_linear([p.rows for p in points], [p.seconds for p in points])
    mem_log = memory_log_rows if memory_log_rows is not None else min(max(log_sizes), 14)
    model = memory_model(air)
    memory = model.model_copy(update={"measured_bytes_per_row": measure_peak_bytes_per_row(mem_log)})
    return Calibration(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), host=platform.node(),
        cpu_count=os.cpu_count() or 1, threads=numba.get_num_threads(), air=air.name,
        main_width=air.main_width, log_blowup=DEFAULT_PARAMS.log_blowup, max_log_rows_secure=secure,
        points=points, fixed_s=fixed_s, s_per_row=s_per_row, memory=memory, gpus=list(gpus),
    )


def measure_peak_bytes_per_row(log_rows: int) -> int:
    """Peak bytes the prover allocates per row for one proof of 2^log_rows rows, trace included."""
    guest = BUILTIN_GUESTS[CALIBRATION_GUEST]
    trace, public, _ = guest.witness(guest.parse_input({"n": (1 << log_rows) - 1, "a": 1, "b": 1}))
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        prove(guest.air, trace, public)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return math.ceil((peak - base + trace.nbytes) / (1 << log_rows))


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """`nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits` (MiB) -> GPUs."""
    gpus = []
    for line in text.strip().splitlines():
        name, _, mib = line.rpartition(",")
        if name.strip() and mib.strip().isdigit():
            gpus.append(Gpu(name=name.strip(), memory_bytes=int(mib) * 1024 * 1024))
    return gpus


def detect_gpus(timeout_s: float = 20.0) -> list[Gpu]:
    """This machine's GPUs from nvidia-smi; none when it is absent or fails (a CPU node)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=timeout_s, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_nvidia_smi(out)


def save(cal: Calibration, path: Path = DEFAULT_PATH) -> Path:
    """Write atomically (a scheduler reading mid-write sees the old file or the new one)."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(cal.model_dump_json(indent=2) + "\n")
    tmp.replace(path)
    return path


def load(path: Path = DEFAULT_PATH) -> Calibration:
    """Read a calibration file; CalibrationError says how to make a good one."""
    path = path.expanduser()
    try:
        cal = Calibration.model_validate_json(path.read_text())
    except FileNotFoundError as e:
        raise CalibrationError(f"no calibration at {path}: run `zkray calibrate -o {path}`") from e
    except (OSError, ValidationError) as e:
        raise CalibrationError(f"{path} is not a valid calibration ({e}); re-run `zkray calibrate`") from e
    if cal.version != FORMAT_VERSION or not cal.points:
        raise CalibrationError(f"{path} has format {cal.version} or no points; re-run `zkray calibrate`")
    return cal


def format_point(p: Point) -> str:
    cells = " ".join(f"{p.phases.get(ph, 0.0):>8.3f}" for ph in PHASES)
    return f"2^{p.log_rows:<4} {p.seconds:>8.3f} {p.rows_per_s:>10.0f} {p.khz:>8.2f} {cells}"


def header() -> str:
    return f"{'rows':<6} {'prove s':>8} {'rows/s':>10} {'kHz':>8} " + " ".join(f"{ph:>8}" for ph in PHASES)


def summary(cal: Calibration) -> str:
    m = cal.memory
    lines = [f"peak {cal.peak_khz:.2f} kHz; fit {cal.fixed_s:.3f} s + {1e6 * cal.s_per_row:.2f} µs/row",
             f"memory {m.bytes_per_row} B/row (model: LDE {m.lde_bytes_per_row} B + Merkle "
             f"{m.merkle_bytes_per_row} B; measured {m.measured_bytes_per_row} B)"]
    for i, g in enumerate(cal.gpus):
        lines.append(f"GPU {i} {g.name}, {g.memory_bytes / 2**30:.0f} GiB: segments up to "
                     f"2^{cal.max_log_rows(g.memory_bytes)} rows")
    lines.append(f"segment size 2^{cal.segment_log_rows()} rows (verifier limit 2^{cal.max_log_rows_secure}); "
                 f"a 2^20-cycle job ≈ {cal.eta_s(1 << 20):.1f} s here")
    return "\n".join(lines)


def node_kind(resources: dict[str, float]) -> tuple[int, int]:
    """A node's kind for calibration: its CPU and GPU counts as Ray reports them (one file per kind)."""
    return round(resources.get("CPU", 0.0)), round(resources.get("GPU", 0.0))


def _measure_here(log_sizes: Sequence[int], repeat: int, cpus: int) -> Calibration:
    """The body of a `--cluster` task: calibrate on the node it runs on, recording the node's CPUs as Ray
    counts them (what `zkray.node.capacity` matches live nodes by)."""
    cal = measure(log_sizes, repeat, gpus=detect_gpus())
    return cal.model_copy(update={"cpu_count": cpus})


def calibrate_cluster(log_sizes: Sequence[int], repeat: int, out_dir: Path, timeout_s: float = 3600.0) -> list[Path]:
    """Calibrate one live node of each kind through Ray (connected already, or `address="auto"`) and write
    `<cpus>cpu-<gpus>gpu.json` per kind into `out_dir`. Each task is pinned to its node (hard affinity) and
    takes all of the node's CPUs and GPUs, so no prove task runs beside it and skews the figure."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    if not ray.is_initialized():
        ray.init(address="auto", configure_logging=False, log_to_driver=False)
    kinds: dict[tuple[int, int], str] = {}
    for node in ray.nodes():
        cpus, gpus = node_kind(node.get("Resources", {}))
        if node.get("Alive") and cpus > 0:
            kinds.setdefault((cpus, gpus), node["NodeID"])
    if not kinds:
        raise CalibrationError("no live Ray node with CPUs to calibrate; start the cluster first")
    task = ray.remote(max_retries=0)(_measure_here)
    refs = {
        kind: task.options(num_cpus=kind[0], num_gpus=kind[1],
                           scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                           ).remote(list(log_sizes), repeat, kind[0])
        for kind, node_id in kinds.items()
    }  # fmt: skip
    return [save(ray.get(ref, timeout=timeout_s), out_dir / f"{kind[0]}cpu-{kind[1]}gpu.json")
            for kind, ref in refs.items()]  # fmt: skip


def _cmd(args: argparse.Namespace) -> int:
    if args.cluster:
        out_dir = Path(args.output) if args.output != str(DEFAULT_PATH) else DEFAULT_CLUSTER_DIR
        print(f"zkray calibrate --cluster: one node of each kind, 2^{args.min_log}..2^{args.max_log} rows")
        for path in calibrate_cluster(range(args.min_log, args.max_log + 1), args.repeat, out_dir.expanduser()):
            cal = load(path)
            print(f"{path.name}: {cal.host}, {cal.cpu_count} CPUs, {len(cal.gpus)} GPU(s): {cal.peak_khz:.2f} kHz peak")
        print(f"set ZKRAY_CALIBRATION={out_dir} for the node (e.g. in ~/zkray.env)")
        return 0
    gpus = detect_gpus()
    print(f"zkray calibrate: {CALIBRATION_GUEST} AIR, {os.cpu_count()} CPUs, {numba.get_num_threads()} threads, "
          f"{len(gpus)} GPU(s)\n{header()}")
    cal = measure(range(args.min_log, args.max_log + 1), args.repeat, gpus=gpus,
                  progress=lambda p: print(format_point(p), flush=True))
    print(summary(cal))
    print(f"wrote {save(cal, Path(args.output))}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `zkray calibrate` on the CLI's subcommands."""
    ca = sub.add_parser("calibrate", help="measure proving speed (kHz) and memory per row; write a file")
    ca.add_argument("--min-log", type=int, default=12, help="smallest trace, log2 rows (default 12)")
    ca.add_argument("--max-log", type=int, default=18, help="largest trace, log2 rows (default 18)")
    ca.add_argument("--repeat", type=int, default=3, help="median of N proofs (different inputs) per size")
    ca.add_argument("-o", "--output", default=str(DEFAULT_PATH),
                    help=f"calibration file ({DEFAULT_PATH}); a directory with --cluster ({DEFAULT_CLUSTER_DIR})")
    ca.add_argument("--cluster", action="store_true",
                    help="on a Ray cluster's head: one node of each kind, one file per kind (set ZKRAY_CALIBRATION)")
    ca.set_defaults(func=_cmd)
