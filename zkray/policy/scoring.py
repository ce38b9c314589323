"""How much a job is worth to this node right now: the number the priority queue orders by.

score = current tip × urgency × cache bonus ÷ cycle penalty, where
- the current tip decays linearly from the posted tip to half of it over 30 min (as the engine pays);
- urgency rises from 1 to 1 + `urgency_weight` as the time left falls through `urgency_window_s`,
  so a job about to expire is done before one that can wait;
- a program already in the cache saves a fetch and a load: × (1 + `cache_bonus`);
- cycles cost proving time: ÷ (1 + `cycle_penalty` × cycles / `cycles_unit`).
An expired job scores -inf, below everything, so the queue evicts it first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DECAY_S = 30 * 60.0
"""The engine's payout falls from the tip to tip/2 over this many seconds after the request."""


def current_tip(tip_wei: int, requested_at: float, now: float, decay_s: float = DECAY_S) -> int:
    """The payout (wei) the engine would pay at `now`: linear from tip to tip/2 over `decay_s`, then flat."""
    # integer arithmetic on milliseconds, as the contract does on seconds: floats lose wei at 1e16
    decay_ms = round(decay_s * 1000)
    elapsed_ms = max(0, round((now - requested_at) * 1000))
    if elapsed_ms >= decay_ms:
        return tip_wei // 2  # the engine's `_currentTip` floors here too
    return tip_wei - tip_wei * elapsed_ms // (2 * decay_ms)


def prover_payout(tip_wei: int, requested_at: float, now: float, fee_bps: int = 250) -> int:
    """What the prover receives for a proof accepted at `now`: the current tip less the protocol fee."""
    payout = current_tip(tip_wei, requested_at, now)
    return payout - payout * fee_bps // 10_000


@dataclass(frozen=True)
class ScoreWeights:
    """Knobs of the score; defaults make a cached program worth 20 % more and 10 M cycles cost half."""

    urgency_weight: float = 1.0
    urgency_window_s: float = 600.0
    cache_bonus: float = 0.2
    cycle_penalty: float = 1.0
    cycles_unit: float = 10_000_000.0
    default_cycles: int = 1_000_000  # assumed before preflight has measured the job
    decay_s: float = DECAY_S


@dataclass(frozen=True)
class JobFacts:
    """What the scheduler knows about a job when scoring it."""

    tip_wei: int
    requested_at: float
    expires_at: float
    cycles: int | None = None
    program_cached: bool = False


def score(job: JobFacts, now: float, weights: ScoreWeights = ScoreWeights()) -> float:
    """Higher is better; -inf once the job has expired."""
    left = job.expires_at - now
    if left <= 0:
        return -math.inf
    tip = current_tip(job.tip_wei, job.requested_at, now, weights.decay_s) / 1e18  # in ETH: readable
    urgency = 1.0 + weights.urgency_weight * max(0.0, 1.0 - left / weights.urgency_window_s)
    cached = 1.0 + weights.cache_bonus if job.program_cached else 1.0
    cycles = weights.default_cycles if job.cycles is None else job.cycles
    cost = 1.0 + weights.cycle_penalty * cycles / weights.cycles_unit
    return tip * urgency * cached / cost
