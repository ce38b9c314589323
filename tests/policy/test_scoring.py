"""The job score: decayed tip, urgency, cache bonus, cycle penalty."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from zkray.policy.scoring import DECAY_S, JobFacts, ScoreWeights, current_tip, prover_payout, score

ETH = 10**18


def test_tip_decays_linearly_to_half_over_thirty_minutes() -> None:
    assert DECAY_S == 1800.0
    assert current_tip(ETH, 0.0, 0.0) == ETH
    assert current_tip(ETH, 0.0, 900.0) == 3 * ETH // 4
    assert current_tip(ETH, 0.0, 1800.0) == ETH // 2
    assert current_tip(ETH, 0.0, 99_999.0) == ETH // 2
    assert current_tip(ETH, 100.0, 50.0) == ETH  # clocks slightly apart: never above the tip
    assert current_tip(7, 0.0, 1800.0) == 3  # floors like the engine's `_currentTip`
    assert prover_payout(ETH, 0.0, 0.0) == ETH * 9750 // 10_000  # 2.5 % protocol fee


@given(st.integers(0, 10**24), st.floats(0, 5000), st.floats(0, 5000))
def test_current_tip_is_monotone_and_bounded(tip: int, t1: float, t2: float) -> None:
    early, late = sorted((t1, t2))
    assert tip // 2 <= current_tip(tip, 0.0, late) <= current_tip(tip, 0.0, early) <= tip


def job(**kw) -> JobFacts:
    return JobFacts(**{"tip_wei": ETH, "requested_at": 0.0, "expires_at": 3600.0, **kw})


def test_each_factor_moves_the_score_the_right_way() -> None:
    base = score(job(), now=0.0)
    assert score(job(tip_wei=2 * ETH), now=0.0) > base
    assert score(job(program_cached=True), now=0.0) == base * 1.2
    assert score(job(cycles=50_000_000), now=0.0) < score(job(cycles=1000), now=0.0)
    assert score(job(expires_at=60.0), now=0.0) > base  # near expiry: urgent
    assert score(job(), now=600.0) < base  # the tip decayed


def test_expired_jobs_score_below_everything() -> None:
    assert score(job(expires_at=10.0), now=10.0) == -math.inf


def test_weights_are_configurable() -> None:
    flat = ScoreWeights(urgency_weight=0.0, cache_bonus=0.0, cycle_penalty=0.0)
    assert score(job(expires_at=1.0, cycles=10**9, program_cached=True), now=0.0, weights=flat) == 1.0
