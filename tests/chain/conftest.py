"""Fixtures for the chain tests: one real anvil devnet per module, reverted to a snapshot after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zkray.chain.devnet import Devnet


@pytest.fixture(scope="module")
def devnet() -> Iterator[Devnet]:
    """A devnet with the contracts deployed and the built-in guests registered (anvil starts in < 1 s)."""
    with Devnet() as net:
        yield net


@pytest.fixture
def chain(devnet: Devnet) -> Iterator[Devnet]:
    """The module's devnet, restored afterwards: balances, nonces, requests and mining mode."""
    snapshot = devnet.snapshot()
    yield devnet
    devnet.set_interval_mining(0)
    devnet.revert(snapshot)
