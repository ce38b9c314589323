"""Is a job worth taking, and can it be finished in time?

Profit: (payout − gas_price × (claim_gas + submit_gas)) / payout ≥ margin (default 20 %), where the
payout is what the engine would pay when the proof lands (decayed tip less the fee, see scoring).
Deadline: preflight tells the cycles; the node's measured speed (cycles/s, a moving average of real
proofs) gives the proving time, multiplied by a safety factor, plus fixed overhead for fetch, claim and
submission; that must fit before both the claim deadline and the job's expiry.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkray.policy.scoring import prover_payout

CLAIM_WINDOW_S = 600.0
"""The engine gives a claimant 10 minutes to submit."""


@dataclass(frozen=True)
class Verdict:
    """A yes/no with the figure behind it and a reason an operator can read in the log."""

    ok: bool
    value: float
    reason: str


def profit_margin(payout_wei: int, gas_price_wei: int, claim_gas: int, submit_gas: int) -> float:
    """(payout − gas cost) / payout; -inf when the payout is zero."""
    if payout_wei <= 0:
        return float("-inf")
    cost = gas_price_wei * (claim_gas + submit_gas)
    return (payout_wei - cost) / payout_wei


def check_profit(
    payout_wei: int, gas_price_wei: int, claim_gas: int, submit_gas: int, min_margin: float = 0.2
) -> Verdict:
    """Take the job only if the margin after gas for claim + submit reaches `min_margin`."""
    margin = profit_margin(payout_wei, gas_price_wei, claim_gas, submit_gas)
    ok = margin >= min_margin
    cost = gas_price_wei * (claim_gas + submit_gas)
    word = "meets" if ok else "is below"
    return Verdict(ok, margin, f"margin {margin:.1%} {word} {min_margin:.0%} (payout {payout_wei} wei, gas {cost} wei)")


def expected_payout(tip_wei: int, requested_at: float, now: float, eta_s: float, fee_bps: int = 250) -> int:
    """The payout if the proof lands `eta_s` from now: tips decay, so a slow job earns less."""
    return prover_payout(tip_wei, requested_at, now + eta_s, fee_bps)


@dataclass(frozen=True)
class ProvingSpeed:
    """The node's measured proving speed in cycles per second, an exponential moving average."""

    cycles_per_s: float
    samples: int = 0
    alpha: float = 0.3  # weight of the newest measurement

    def observe(self, cycles: int, seconds: float) -> ProvingSpeed:
        """A new estimate after a real proof of `cycles` took `seconds`; ignores empty measurements."""
        if cycles <= 0 or seconds <= 0:
            return self
        measured = cycles / seconds
        if self.samples == 0:
            return ProvingSpeed(measured, 1, self.alpha)
        blended = self.alpha * measured + (1 - self.alpha) * self.cycles_per_s
        return ProvingSpeed(blended, self.samples + 1, self.alpha)


def proving_eta(cycles: int, speed: ProvingSpeed, safety_factor: float = 2.0, overhead_s: float = 30.0) -> float:
    """Seconds from claim to submission: proving time × safety factor, plus fixed overhead."""
    if speed.cycles_per_s <= 0:
        return float("inf")
    return cycles / speed.cycles_per_s * safety_factor + overhead_s


def check_deadline(
    cycles: int,
    speed: ProvingSpeed,
    now: float,
    expires_at: float,
    claim_window_s: float = CLAIM_WINDOW_S,
    safety_factor: float = 2.0,
    overhead_s: float = 30.0,
) -> Verdict:
    """Claim only what can be proven and submitted before the claim deadline and the expiry; the value
    is the slack in seconds (negative when infeasible)."""
    eta = proving_eta(cycles, speed, safety_factor, overhead_s)
    deadline = min(expires_at, now + claim_window_s)
    slack = deadline - (now + eta)
    if slack < 0:
        return Verdict(False, slack, f"needs {eta:.0f}s but only {deadline - now:.0f}s remain")
    return Verdict(True, slack, f"needs {eta:.0f}s of {deadline - now:.0f}s")
