"""The benchmark that gives the figures in docs/observability.md still runs (tiny sizes)."""

from __future__ import annotations

import pytest

from zkray.observe import bench


async def test_bench_runs(capsys: pytest.CaptureFixture[str]):
    await bench.main(jobs=8, seconds=0.1)
    out = capsys.readouterr().out
    for path in ("/api/status", "/metrics", "/readyz", "/healthz"):
        assert path in out
