"""Calibration into scheduling: a calibration file changes the deadline decision for the same job; the
cluster's capacity follows its live nodes; GPU tasks declare their segment's memory and small GPUs are
hidden from placement (pure here; on a Ray Cluster in tests/multinode/test_gpu_memory.py)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from zkray.calibrate import Calibration, CalibrationError, Gpu, MemoryNeeds, Point, calibrate_cluster, save
from zkray.node.affinity import AffinityPlacer
from zkray.node.capacity import (
    GPU_MEMORY_RESOURCE,
    ClusterCapacity,
    cluster_eta_s,
    gpu_memory_need_gib,
    gpu_task_memory_gib,
    load_calibrations,
    load_capacity,
    match,
    ray_resources,
    without_small_gpus,
)
from zkray.node.config import ProvingConfig
from zkray.node.prover import ProverService
from zkray.node.proving import ProvingPool
from zkray.node.proving.placement import TaskShape, fits, runnable_backends
from zkray.node.settings import load_settings
from zkray.policy.degradation import ProverBackend
from zkray.policy.profitability import check_deadline

NOW = 1_000_000.0


def calibration(
    cpus: int, s_per_row: float, fixed_s: float = 0.5, gpus: int = 0, bytes_per_row: int = 3000
) -> Calibration:
    """A calibration as `zkray calibrate` writes it, with round numbers (the arithmetic, not the prover)."""
    points = [Point(log_rows=k, seconds=fixed_s + s_per_row * (1 << k), phases={}) for k in (12, 16)]
    return Calibration(
        created_at="2026-01-01T00:00:00+00:00", host=f"node-{cpus}", cpu_count=cpus, threads=cpus, air="fib",
        main_width=36, log_blowup=2, max_log_rows_secure=20, points=points, fixed_s=fixed_s, s_per_row=s_per_row,
        memory=MemoryNeeds(lde_bytes_per_row=640, merkle_bytes_per_row=549, measured_bytes_per_row=bytes_per_row),
        gpus=[Gpu(name="A10G", memory_bytes=24 << 30)] * gpus,
    )


class NoNodes:
    """A pool runtime for a ProverService that never proves here: the local machine's two CPUs."""

    def nodes(self) -> list[dict[str, float]]:
        return [{"CPU": 2.0}]

    def submit(self, *args: object) -> None:
        raise AssertionError("nothing is proved in these tests")

    def wait(self, refs: object, timeout_s: float) -> list[object]:
        return []

    def result(self, ref: object) -> bytes:
        raise AssertionError

    def kill(self, ref: object) -> None:
        raise AssertionError


def prover_for(settings_env: dict[str, str]) -> ProverService:
    """The node's ProverService wired as `zkray.node.assemble` wires it, from settings in the environment."""
    settings = load_settings(env=settings_env)
    capacity = load_capacity(settings.calibration, gpu_memory_gib=settings.gpu_memory_gib)
    runtime = NoNodes()
    pool = ProvingPool(runtime, ProvingConfig(backends=(ProverBackend.CPU,)))
    return ProverService(pool, None, settings.initial_speed_hz, capacity and capacity.watching(runtime.nodes))


def deadline_ok(prover: ProverService, cycles: int, expires_in_s: float) -> bool:
    """The decision `JobRunner.from_fetching` makes before it claims a job."""
    return check_deadline(cycles, prover.speed_for(cycles), NOW, NOW + expires_in_s).ok


def test_a_calibration_file_changes_the_deadline_decision_for_the_same_job(tmp_path: Path) -> None:
    # Without a file the node assumes initial_speed_hz (2000 cycles/s): a 2^18-cycle job needs
    # 2^18 / 2000 × 2 + 30 ≈ 292 s, more than the 200 s left, so the node would not claim it.
    missing = tmp_path / "none.json"
    uncalibrated = prover_for({"ZKRAY_CALIBRATION": str(missing)})
    assert uncalibrated.capacity is None
    assert not deadline_ok(uncalibrated, 1 << 18, 200)
    # A node calibrated at 0.5 s + 20 µs/row proves it in ≈ 5.7 s (one segment): 2 × 5.7 + 30 ≈ 41 s.
    path = save(calibration(cpus=2, s_per_row=20e-6), tmp_path / "calibration.json")
    fast = prover_for({"ZKRAY_CALIBRATION": str(path)})
    assert fast.capacity is not None
    assert fast.speed.cycles_per_s == pytest.approx(fast.capacity.job_hz())  # the prior profitability uses
    assert fast.speed_for(1 << 18).cycles_per_s == pytest.approx((1 << 18) / (0.5 + 20e-6 * (1 << 18)))
    assert deadline_ok(fast, 1 << 18, 200)
    # ... and one calibrated slower than the default declines a job the default would take.
    save(calibration(cpus=2, s_per_row=2e-3, fixed_s=5.0), path)
    slow = prover_for({"ZKRAY_CALIBRATION": str(path)})
    assert deadline_ok(uncalibrated, 1 << 16, 200) and not deadline_ok(slow, 1 << 16, 200)


def test_size_matters_small_jobs_pay_the_fixed_cost() -> None:
    cap = ClusterCapacity([calibration(cpus=2, s_per_row=10e-6, fixed_s=1.0)])
    small, large = cap.speed(1 << 8), cap.speed(1 << 20)
    assert small.cycles_per_s < 300 < 90_000 < large.cycles_per_s  # 256/1.0026 vs 2^20/11.5


def test_the_cluster_capacity_follows_the_live_nodes() -> None:
    slow, fast = calibration(cpus=2, s_per_row=100e-6), calibration(cpus=8, s_per_row=10e-6)
    live: list[dict[str, float]] = [{"CPU": 0.0}, {"CPU": 8.0}]  # a head with no CPUs proves nothing
    clock = [0.0]
    cap = ClusterCapacity([slow, fast], nodes=lambda: list(live), refresh_s=5.0, clock=lambda: clock[0])
    assert cap.priced_nodes() == [fast]
    one_node = cap.eta_s(1 << 16, backlog_cycles=1 << 22)
    live.append({"CPU": 8.0})  # a second fast node joins: the backlog is shared, the job waits half as long
    clock[0] = 5.0
    assert cap.priced_nodes() == [fast, fast]
    two_nodes = cap.eta_s(1 << 16, backlog_cycles=1 << 22)
    own = fast.eta_s(1 << 16)
    assert two_nodes - own == pytest.approx((one_node - own) / 2)
    live.append({"CPU": 2.0})  # a slow node: its own time bounds the job (it may land there)
    clock[0] = 10.0
    assert cap.eta_s(1 << 16) == pytest.approx(slow.eta_s(1 << 16))
    assert cap.peak_hz() == pytest.approx(2 * fast.peak_khz * 1000 + slow.peak_khz * 1000)
    assert cap.job_hz() == pytest.approx(slow.peak_khz * 1000)  # one job may land on the slow node


def test_a_node_with_no_calibration_of_its_own_is_priced_as_the_slowest() -> None:
    slow, fast = calibration(cpus=2, s_per_row=100e-6), calibration(cpus=8, s_per_row=10e-6, gpus=1)
    assert match([slow, fast], {"CPU": 8.0, "GPU": 1.0}) is fast
    assert match([slow, fast], {"CPU": 8.0}) is slow  # same CPUs, no GPU: another kind of node
    assert match([slow, fast], {"CPU": 64.0}) is slow
    assert cluster_eta_s([], 100) == math.inf


def test_proofs_in_flight_delay_a_new_job(tmp_path: Path) -> None:
    path = save(calibration(cpus=2, s_per_row=20e-6), tmp_path / "c.json")
    prover = prover_for({"ZKRAY_CALIBRATION": str(path)})
    idle = prover.speed_for(1 << 18).cycles_per_s

    async def busy() -> float:
        task = asyncio.ensure_future(_hold(prover, cycles=1 << 24))
        await asyncio.sleep(0)
        try:
            return prover.speed_for(1 << 18).cycles_per_s
        finally:
            task.cancel()

    assert asyncio.run(busy()) < idle / 2


async def _hold(prover: ProverService, cycles: int) -> None:
    """A proof in flight as ProverService records it (its pool job never starts: nothing polls)."""
    from zkray.node.proving import ProveRequest

    await prover.prove(ProveRequest("held", "fib", (5).to_bytes(4, "little")), image_id="aa", input_digest="bb",
                       cycles=cycles)  # fmt: skip


def test_a_directory_holds_one_calibration_per_node_type(tmp_path: Path) -> None:
    save(calibration(cpus=2, s_per_row=100e-6), tmp_path / "cpu.json")
    save(calibration(cpus=8, s_per_row=10e-6, gpus=1), tmp_path / "gpu.json")
    assert [c.cpu_count for c in load_calibrations(tmp_path)] == [2, 8]
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(CalibrationError, match="re-run"):
        load_calibrations(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CalibrationError, match="no calibration files"):
        load_calibrations(tmp_path / "empty")
    assert load_capacity(tmp_path / "absent.json") is None


def test_a_gpu_task_declares_its_segment_memory() -> None:
    cal = calibration(cpus=8, s_per_row=10e-6, bytes_per_row=3000)
    # 3000 B/row × 2^20 rows / 0.85 headroom = 3.45 GiB, rounded up to 1/100 GiB
    assert gpu_memory_need_gib(cal) == pytest.approx(3.45)
    assert gpu_memory_need_gib(cal, 18) == pytest.approx(0.87)
    cap = load_capacity(None)
    assert cap is None and gpu_task_memory_gib(cap, None) == 0.0 and gpu_task_memory_gib(cap, 12.0) == 12.0
    shape = TaskShape(1.0, 1.0, gpu_memory_gib=16.0)
    assert shape.ray_options() == {"num_cpus": 1.0, "num_gpus": 1.0, "resources": {GPU_MEMORY_RESOURCE: 16.0}}
    assert TaskShape(1.0, 0.5, gpu_memory_gib=16.0).ray_options()["resources"] == {GPU_MEMORY_RESOURCE: 16.0}
    assert TaskShape(1.0).ray_options() == {"num_cpus": 1.0}  # CPU tasks declare no GPU memory


def test_small_gpus_are_hidden_from_placement() -> None:
    small = {"CPU": 2.0, "GPU": 1.0, GPU_MEMORY_RESOURCE: 8.0}
    big = {"CPU": 2.0, "GPU": 1.0, GPU_MEMORY_RESOURCE: 24.0}
    four_small = {"CPU": 8.0, "GPU": 4.0, GPU_MEMORY_RESOURCE: 64.0}  # 64 GiB in all, 16 per GPU
    undeclared = {"CPU": 2.0, "GPU": 1.0}
    shape = TaskShape(1.0, 1.0, gpu_memory_gib=20.0)
    assert [fits(shape, n) for n in (small, big, four_small, undeclared)] == [False, True, False, False]
    assert [without_small_gpus(n, 20.0)["GPU"] for n in (small, big, four_small, undeclared)] == [0.0, 1.0, 0.0, 0.0]
    assert without_small_gpus(undeclared, 0.0) == undeclared  # no need declared: nothing hidden
    config = ProvingConfig(backends=(ProverBackend.GPU, ProverBackend.CPU))
    seen = [without_small_gpus(n, 20.0) for n in (small, four_small)]
    assert runnable_backends(seen, config, remote_configured=False) == (ProverBackend.CPU,)
    seen.append(without_small_gpus(big, 20.0))
    assert runnable_backends(seen, config, remote_configured=False) == (ProverBackend.GPU, ProverBackend.CPU)
    placer = AffinityPlacer()
    placer.update([("small", small), ("four", four_small), ("big", big)])
    assert {placer.owner(f"image-{i}", shape) for i in range(50)} == {"big"}


def test_a_machine_declares_its_gpus_memory_rounded_down() -> None:
    a10g = Gpu(name="NVIDIA A10G", memory_bytes=23028 << 20)
    assert ray_resources([]) == {}
    assert ray_resources([a10g]) == {GPU_MEMORY_RESOURCE: 22.48}  # 22.488 GiB: never promise more
    assert ray_resources([a10g] * 4) == {GPU_MEMORY_RESOURCE: 89.95}


def test_calibrate_cluster_measures_each_kind_of_node_through_ray(ray_session: object, tmp_path: Path) -> None:
    """`zkray calibrate --cluster`: a real calibration inside a Ray task on each kind of node (here the
    session's one 4-CPU node), one file per kind, which the node's capacity then matches to live nodes."""
    paths = calibrate_cluster([5, 6], 1, tmp_path)
    assert [p.name for p in paths] == ["4cpu-0gpu.json"]
    cap = load_capacity(tmp_path)
    assert cap is not None and [c.cpu_count for c in cap.calibrations] == [4]
    (cal,) = cap.calibrations
    assert [p.log_rows for p in cal.points] == [5, 6] and cal.peak_khz > 0
    assert match(cap.calibrations, {"CPU": 4.0}) is cal


class FixedNodes:
    """A cluster of fixed nodes, as `RayRuntime.alive_nodes` reports them (the affinity runtime's input)."""

    def __init__(self, nodes: list[tuple[str, dict[str, float]]]) -> None:
        self._nodes = nodes

    def alive_nodes(self) -> list[tuple[str, dict[str, float]]]:
        return self._nodes


def test_the_affinity_runtime_hides_small_and_undeclared_gpus_and_says_why_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from zkray.node.affinity import AffinityRuntime

    nodes = [("small", {"CPU": 1.0, "GPU": 1.0, GPU_MEMORY_RESOURCE: 8.0}),
             ("big", {"CPU": 1.0, "GPU": 1.0, GPU_MEMORY_RESOURCE: 24.0}),
             ("bare", {"CPU": 1.0, "GPU": 1.0})]  # fmt: skip
    runtime = AffinityRuntime(FixedNodes(nodes), gpu_memory_gib=16.0)  # type: ignore[arg-type]
    with caplog.at_level("WARNING", logger="zkray.node.affinity"):
        assert [n["GPU"] for n in runtime.nodes()] == [0.0, 1.0, 0.0]
        runtime.nodes()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "bare" in warnings[0] and GPU_MEMORY_RESOURCE in warnings[0]
    assert [n["GPU"] for n in AffinityRuntime(FixedNodes(nodes)).nodes()] == [1.0, 1.0, 1.0]  # type: ignore[arg-type]
