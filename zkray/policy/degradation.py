"""Degradation modes: do less, safely, when dependencies fail, and recover step by step.

    NORMAL       everything on
    DEGRADED     something is flaky (a gateway, the remote prover, the GPU, rising failure rates):
                 keep taking jobs, stop optional work (prefetch), avoid half-recovered services
    MINIMAL      the chain or the attester is unreachable, or most proofs fail: take no new jobs,
                 finish the ones already claimed
    UNAVAILABLE  proving itself is broken: start nothing; stored proofs are still submitted when possible

The mode worsens at once when the signals say so, and improves one level at a time, only after the
signals have stayed better for `recovery_s` (hysteresis: a flapping RPC does not flap the node).
`transition(state, signals, now)` is pure; the actor that owns the breakers calls it on a timer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from zkray.policy.breaker import BreakerState


class Mode(StrEnum):
    """How much the node is doing; compare severity with `.severity`, not string order."""

    NORMAL = "normal"
    DEGRADED = "degraded"
    MINIMAL = "minimal"
    UNAVAILABLE = "unavailable"

    @property
    def severity(self) -> int:
        """0 for NORMAL up to 3 for UNAVAILABLE."""
        return _ORDER.index(self)


_ORDER = [Mode.NORMAL, Mode.DEGRADED, Mode.MINIMAL, Mode.UNAVAILABLE]


class ProverBackend(StrEnum):
    """Where a proof can be computed, in the order the fallback chain tries them."""

    REMOTE = "remote"  # a Bonsai-compatible HTTP prover
    GPU = "gpu"
    CPU = "cpu"


@dataclass(frozen=True)
class HealthSignals:
    """What the node knows about its dependencies right now; None means 'not configured / not present'."""

    rpc: BreakerState = BreakerState.CLOSED
    attester: BreakerState = BreakerState.CLOSED
    gateways: tuple[BreakerState, ...] = ()
    remote_prover: BreakerState | None = None
    gpu: BreakerState | None = None
    prove_failure_rate: float = 0.0  # fraction of recent prove tasks that failed
    submit_failure_rate: float = 0.0


@dataclass(frozen=True)
class DegradationConfig:
    """Thresholds; failure rates are fractions of recent attempts."""

    degraded_failure_rate: float = 0.2
    minimal_failure_rate: float = 0.5
    unavailable_failure_rate: float = 0.9
    recovery_s: float = 60.0


@dataclass(frozen=True)
class DegradationState:
    """The current mode, since when, and since when the signals have pointed to a better one."""

    mode: Mode = Mode.NORMAL
    since: float = 0.0
    better_since: float | None = None
    reason: str = "all dependencies healthy"


@dataclass(frozen=True)
class FeatureFlags:
    """What the node may do in a mode, given which services are up."""

    accept_new_jobs: bool
    prove: bool
    submit: bool
    prefetch: bool
    use_gpu: bool
    use_remote_prover: bool

    def prover_chain(self) -> tuple[ProverBackend, ...]:
        """Backends to try in order: remote → GPU → CPU, skipping the disabled ones; empty if not proving."""
        if not self.prove:
            return ()
        chain = [ProverBackend.REMOTE] if self.use_remote_prover else []
        if self.use_gpu:
            chain.append(ProverBackend.GPU)
        return (*chain, ProverBackend.CPU)


def target_mode(signals: HealthSignals, config: DegradationConfig = DegradationConfig()) -> tuple[Mode, str]:
    """The mode the signals call for, ignoring hysteresis, with the reason."""
    open_ = BreakerState.OPEN
    if signals.prove_failure_rate >= config.unavailable_failure_rate:
        return Mode.UNAVAILABLE, f"{signals.prove_failure_rate:.0%} of proofs fail"
    if signals.rpc is open_:
        return Mode.MINIMAL, "the chain RPC is unreachable"
    if signals.attester is open_:
        return Mode.MINIMAL, "the attester is unreachable"
    if signals.gateways and all(g is open_ for g in signals.gateways):
        return Mode.MINIMAL, "every input gateway is failing"
    if signals.prove_failure_rate >= config.minimal_failure_rate:
        return Mode.MINIMAL, f"{signals.prove_failure_rate:.0%} of proofs fail"
    services = {
        "rpc": signals.rpc,
        "attester": signals.attester,
        "remote prover": signals.remote_prover,
        "gpu": signals.gpu,
    }
    troubled = [name for name, state in services.items() if state not in (None, BreakerState.CLOSED)]
    troubled += ["a gateway"] if any(g is not BreakerState.CLOSED for g in signals.gateways) else []
    if signals.prove_failure_rate >= config.degraded_failure_rate:
        troubled.append(f"{signals.prove_failure_rate:.0%} of proofs failing")
    if signals.submit_failure_rate >= config.degraded_failure_rate:
        troubled.append(f"{signals.submit_failure_rate:.0%} of submissions failing")
    if troubled:
        return Mode.DEGRADED, "trouble: " + ", ".join(troubled)
    return Mode.NORMAL, "all dependencies healthy"


def transition(
    state: DegradationState,
    signals: HealthSignals,
    now: float,
    config: DegradationConfig = DegradationConfig(),
) -> DegradationState:
    """The next state: worse at once; better by one level after `recovery_s` of better signals."""
    target, reason = target_mode(signals, config)
    if target.severity > state.mode.severity:
        return DegradationState(target, now, None, reason)
    if target is state.mode:
        return state if state.better_since is None else replace(state, better_since=None)
    if state.better_since is None:
        return replace(state, better_since=now)
    if now - state.better_since < config.recovery_s:
        return state
    stepped = _ORDER[state.mode.severity - 1]
    return DegradationState(stepped, now, None, f"recovering: {reason}")


def flags(mode: Mode, signals: HealthSignals) -> FeatureFlags:
    """Feature flags for `mode`; a service whose breaker is open is never used, whatever the mode."""
    gpu_up = signals.gpu is not None and signals.gpu is not BreakerState.OPEN
    remote_closed = signals.remote_prover is BreakerState.CLOSED
    remote_up = signals.remote_prover is not None and signals.remote_prover is not BreakerState.OPEN
    if mode is Mode.NORMAL:
        return FeatureFlags(True, True, True, True, gpu_up, remote_up)
    if mode is Mode.DEGRADED:
        return FeatureFlags(True, True, True, False, gpu_up, remote_closed)
    if mode is Mode.MINIMAL:
        return FeatureFlags(False, True, True, False, gpu_up, False)
    return FeatureFlags(False, False, True, False, False, False)
