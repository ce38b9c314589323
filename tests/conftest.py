"""Fixtures that start real services, shared by the whole suite, and clean up after themselves."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """The node reads `~/.zkray/calibration.json` by default; a calibration someone made on this machine
    must not change how the tests' nodes price jobs. Tests that use one pass its path explicitly."""
    os.environ.setdefault("ZKRAY_CALIBRATION", str(config.rootpath / ".pytest-no-calibration.json"))


@pytest.fixture(scope="session")
def ray_session() -> Iterator[object]:
    """One local Ray instance per test session: `ray.init` costs 10-25 s on the CI machine."""
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    if not ray.is_initialized():
        ray.init(
            address="local",  # always a fresh local instance, never a cluster someone else started
            num_cpus=4,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            object_store_memory=512 * 1024 * 1024,
        )
    yield ray
    ray.shutdown()
