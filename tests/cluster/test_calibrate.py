"""`zkray calibrate`: measured speed and memory, the fit, segment limits, the file, and the command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from zkray import calibrate as cal_mod
from zkray.calibrate import (
    Calibration,
    CalibrationError,
    Gpu,
    MemoryNeeds,
    Point,
    fit_linear,
    load,
    measure,
    memory_model,
    parse_nvidia_smi,
    save,
)
from zkray.policy.profitability import check_deadline
from zkray.zkvm.guests import BUILTIN_GUESTS

GiB = 1 << 30


@pytest.fixture(scope="module")
def measured() -> Calibration:
    return measure([5, 6, 7], repeat=3, memory_log_rows=7)


def synthetic(bytes_per_row: int = 3000, gpus: list[Gpu] | None = None) -> Calibration:
    """A calibration with round numbers, for the arithmetic (no proving)."""
    return Calibration(
        created_at="2026-01-01T00:00:00+00:00", host="h", cpu_count=2, threads=2, air="fib", main_width=36,
        log_blowup=2, max_log_rows_secure=20,
        points=[Point(log_rows=10, seconds=0.5, phases={}), Point(log_rows=12, seconds=1.0, phases={})],
        fixed_s=0.25, s_per_row=1e-4,
        memory=MemoryNeeds(lde_bytes_per_row=640, merkle_bytes_per_row=549, measured_bytes_per_row=bytes_per_row),
        gpus=gpus or [],
    )


def test_measure_proves_each_size(measured):
    assert [p.log_rows for p in measured.points] == [5, 6, 7]
    for p in measured.points:
        assert p.seconds > 0 and p.khz == p.rows_per_s / 1000 == p.rows / p.seconds / 1000
        assert {"lde", "commit", "constraints", "quotient", "fri", "queries"} <= set(p.phases)
        assert sum(p.phases.values()) <= p.seconds
    assert measured.peak_khz == max(p.khz for p in measured.points)
    assert measured.fixed_s >= 0 and measured.s_per_row > 0
    assert measured.air == cal_mod.CALIBRATION_GUEST
    assert measured.main_width == BUILTIN_GUESTS[cal_mod.CALIBRATION_GUEST].air.main_width
    assert measured.max_log_rows_secure == 20  # docs/stark.md: >= 100 bits up to 2^20 rows at blowup 4


def test_measured_memory_covers_the_resident_arrays(measured):
    """The measured peak must at least hold the LDE matrices and Merkle trees the model counts."""
    m = measured.memory
    assert m.measured_bytes_per_row is not None
    assert m.bytes_per_row == m.measured_bytes_per_row >= m.lde_bytes_per_row + m.merkle_bytes_per_row


def test_memory_model_of_fib():
    air = BUILTIN_GUESTS["fib"].air
    m = memory_model(air)
    # 36 main columns + 1 quotient chunk (4 coordinates) at blowup 4, 4 bytes each.
    assert m.lde_bytes_per_row == (36 + 4) * 4 * 4
    # main and quotient trees (2 · 4 leaves per row, ~2 digests per leaf) + FRI layers (4/7 leaves per row).
    assert m.merkle_bytes_per_row == 549
    assert m.measured_bytes_per_row is None
    assert m.bytes_per_row == pytest.approx((640 + 549) * cal_mod.MODEL_WORKING_FACTOR, abs=1)


def test_segment_never_needs_more_than_the_gpu_has():
    cal = synthetic(bytes_per_row=3000)
    for mem in (1 * GiB, 8 * GiB, 24 * GiB, 80 * GiB, 141 * GiB):
        k = cal.max_log_rows(mem)
        assert k <= 20
        assert (1 << k) * 3000 <= mem * cal_mod.GPU_HEADROOM
        if k < 20:
            assert (1 << (k + 1)) * 3000 > mem * cal_mod.GPU_HEADROOM  # the largest that fits
    assert cal.max_log_rows(1000) == -1
    assert cal.max_log_rows(1 * GiB) == 18  # 2^18 · 3000 B = 0.73 GiB <= 0.85 GiB < 2^19 · 3000 B


def test_smallest_gpu_sets_the_segment_size():
    assert synthetic().segment_log_rows() == 20
    big = Gpu(name="H200", memory_bytes=141 * GiB)
    small = Gpu(name="T4", memory_bytes=1 * GiB)
    assert synthetic(gpus=[big]).segment_log_rows() == 20
    assert synthetic(gpus=[big, small]).segment_log_rows() == 18


def test_eta_pads_to_powers_of_two_and_splits_segments():
    cal = synthetic()
    assert cal.eta_s(0) == 0
    assert cal.eta_s(1) == pytest.approx(0.25 + 16e-4)  # at least 2^4 rows
    assert cal.eta_s(1000) == cal.eta_s(1024) == pytest.approx(0.25 + 1024e-4)
    assert cal.eta_s(1 << 20) == pytest.approx(0.25 + (1 << 20) * 1e-4)
    assert cal.eta_s((1 << 20) + 1) == pytest.approx(2 * 0.25 + ((1 << 20) + 16) * 1e-4)
    assert cal.eta_s(10**12) == pytest.approx(953674 * (0.25 + (1 << 20) * 1e-4) + 0.25 + (1 << 19) * 1e-4)
    small_gpu = synthetic(gpus=[Gpu(name="T4", memory_bytes=1 * GiB)])  # 2^18-row segments
    assert small_gpu.eta_s(1 << 20) == pytest.approx(4 * 0.25 + (1 << 20) * 1e-4)


def test_speed_feeds_the_deadline_check():
    cal = synthetic()
    speed = cal.proving_speed()
    assert speed.cycles_per_s == pytest.approx(cal.peak_khz * 1000) and speed.samples == 1
    fits = check_deadline(1000, speed, now=0.0, expires_at=3600.0)
    too_big = check_deadline(10**9, speed, now=0.0, expires_at=3600.0)
    assert fits.ok and not too_big.ok


def test_fit_linear():
    a, b = fit_linear([1, 2, 4, 8], [1.5, 2.0, 3.0, 5.0])
    assert a == pytest.approx(1.0) and b == pytest.approx(0.5)
    a, b = fit_linear([10, 20], [0.5, 2.0])  # a negative intercept is refitted through the origin
    assert a == 0 and b > 0
    assert fit_linear([16], [2.0]) == (0.0, 0.125)


def test_save_and_load_round_trip(tmp_path, measured):
    path = save(measured, tmp_path / "sub" / "calibration.json")
    assert load(path) == measured
    assert json.loads(path.read_text())["points"][0]["log_rows"] == 5


def test_load_errors_say_what_to_do(tmp_path):
    with pytest.raises(CalibrationError, match="zkray calibrate"):
        load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CalibrationError, match="re-run `zkray calibrate`"):
        load(tmp_path / "bad.json")
    data = json.loads(synthetic().model_dump_json())
    (tmp_path / "old.json").write_text(json.dumps({**data, "version": 0}))
    with pytest.raises(CalibrationError, match="format 0"):
        load(tmp_path / "old.json")


def test_measure_rejects_bad_sizes():
    for sizes in ([], [3], [21]):
        with pytest.raises(ValueError, match="size"):
            measure(sizes)
    with pytest.raises(ValueError, match="repeat"):
        measure([5], repeat=0)


def test_parse_nvidia_smi():
    text = "NVIDIA H200, 143771\nNVIDIA A10G, 23028\n\n"
    assert parse_nvidia_smi(text) == [
        Gpu(name="NVIDIA H200", memory_bytes=143771 * 1024 * 1024),
        Gpu(name="NVIDIA A10G", memory_bytes=23028 * 1024 * 1024),
    ]
    assert parse_nvidia_smi("No devices were found") == []


def test_detect_gpus_answers_on_any_machine():
    gpus = cal_mod.detect_gpus()
    assert all(g.memory_bytes > 0 for g in gpus)


def test_cli_writes_a_calibration(tmp_path):
    out = tmp_path / "cal.json"
    result = subprocess.run(
        [sys.executable, "-m", "zkray.cli", "calibrate", "--min-log", "5", "--max-log", "6", "-o", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "kHz" in result.stdout and "B/row" in result.stdout and f"wrote {out}" in result.stdout
    cal = load(out)
    assert [p.log_rows for p in cal.points] == [5, 6]
