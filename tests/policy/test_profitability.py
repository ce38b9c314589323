"""Profit margin after gas, expected payout, proving speed and deadline feasibility."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkray.policy.profitability import (
    ProvingSpeed,
    check_deadline,
    check_profit,
    expected_payout,
    profit_margin,
    proving_eta,
)

GWEI = 10**9


def test_margin_matches_the_brief_formula() -> None:
    # tip 0.001 ETH, 10 gwei × (100k + 200k gas) = 0.003 ETH ... unprofitable
    assert profit_margin(10**15, 10 * GWEI, 100_000, 200_000) == pytest.approx(-2.0)
    # 1 gwei × 300k = 0.0003 ETH of a 0.001 ETH tip: 70 % margin
    assert profit_margin(10**15, GWEI, 100_000, 200_000) == pytest.approx(0.7)
    assert profit_margin(0, GWEI, 1, 1) == -math.inf


def test_check_profit_uses_the_twenty_percent_default() -> None:
    exactly = check_profit(1000, 1, 400, 400)  # margin 0.2
    assert exactly.ok and "meets" in exactly.reason
    below = check_profit(1000, 1, 401, 400)
    assert not below.ok and "below 20%" in below.reason


@given(st.integers(1, 10**20), st.integers(0, 10**12), st.integers(0, 10**6))
def test_higher_gas_never_raises_the_margin(payout: int, price: int, gas: int) -> None:
    assert profit_margin(payout, price + 1, gas, gas) <= profit_margin(payout, price, gas, gas)


def test_a_slow_job_earns_less() -> None:
    now_payout = expected_payout(10**18, requested_at=0.0, now=0.0, eta_s=0.0)
    later = expected_payout(10**18, requested_at=0.0, now=0.0, eta_s=900.0)
    assert later < now_payout == 10**18 * 9750 // 10_000


def test_speed_is_a_moving_average_of_real_proofs() -> None:
    speed = ProvingSpeed(cycles_per_s=1000.0)
    first = speed.observe(cycles=50_000, seconds=10.0)
    assert first.cycles_per_s == 5000.0 and first.samples == 1  # the first measurement replaces the guess
    second = first.observe(cycles=10_000, seconds=10.0)
    assert second.cycles_per_s == pytest.approx(0.3 * 1000 + 0.7 * 5000)
    assert second.observe(0, 1.0) is second


def test_deadline_feasibility_with_a_safety_factor() -> None:
    speed = ProvingSpeed(cycles_per_s=10_000.0, samples=3)
    assert proving_eta(1_000_000, speed) == 100 * 2 + 30
    ok = check_deadline(1_000_000, speed, now=0.0, expires_at=3600.0)
    assert ok.ok and ok.value == 600 - 230  # bounded by the 10-minute claim window
    late = check_deadline(1_000_000, speed, now=0.0, expires_at=200.0)
    assert not late.ok and late.value == -30 and "needs 230s" in late.reason
    assert not check_deadline(1, ProvingSpeed(0.0), now=0.0, expires_at=1e9).ok
