"""Degradation modes: targets from signals, hysteresis on recovery, flags and the prover chain."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zkray.policy.breaker import BreakerState
from zkray.policy.degradation import (
    DegradationState,
    HealthSignals,
    Mode,
    ProverBackend,
    flags,
    target_mode,
    transition,
)

B = BreakerState
HEALTHY = HealthSignals(gpu=B.CLOSED, remote_prover=B.CLOSED, gateways=(B.CLOSED, B.CLOSED))


def test_targets_from_signals() -> None:
    assert target_mode(HEALTHY)[0] is Mode.NORMAL
    assert target_mode(HealthSignals(gateways=(B.OPEN, B.CLOSED)))[0] is Mode.DEGRADED
    assert target_mode(HealthSignals(gpu=B.HALF_OPEN))[0] is Mode.DEGRADED
    assert target_mode(HealthSignals(submit_failure_rate=0.25))[0] is Mode.DEGRADED
    mode, reason = target_mode(HealthSignals(rpc=B.OPEN))
    assert mode is Mode.MINIMAL and "RPC" in reason
    assert target_mode(HealthSignals(gateways=(B.OPEN, B.OPEN)))[0] is Mode.MINIMAL
    assert target_mode(HealthSignals(prove_failure_rate=0.6))[0] is Mode.MINIMAL
    assert target_mode(HealthSignals(prove_failure_rate=0.95, rpc=B.OPEN))[0] is Mode.UNAVAILABLE


def test_worsens_at_once_and_recovers_one_level_per_recovery_period() -> None:
    state = DegradationState()
    state = transition(state, HealthSignals(rpc=B.OPEN), now=10.0)
    assert state.mode is Mode.MINIMAL and state.since == 10.0
    state = transition(state, HEALTHY, now=20.0)  # healthy again: the clock starts
    assert state.mode is Mode.MINIMAL and state.better_since == 20.0
    state = transition(state, HEALTHY, now=79.0)
    assert state.mode is Mode.MINIMAL
    state = transition(state, HEALTHY, now=80.0)
    assert state.mode is Mode.DEGRADED and "recovering" in state.reason
    state = transition(state, HEALTHY, now=81.0)
    state = transition(state, HEALTHY, now=141.0)
    assert state.mode is Mode.NORMAL


def test_a_flapping_dependency_does_not_flap_the_mode() -> None:
    state = transition(DegradationState(), HealthSignals(rpc=B.OPEN), now=0.0)
    for t in range(1, 200):
        signals = HEALTHY if t % 30 else HealthSignals(rpc=B.OPEN)  # fails every 30 s
        state = transition(state, signals, now=float(t))
        assert state.mode is Mode.MINIMAL


def test_flags_per_mode_and_open_breakers_override() -> None:
    normal = flags(Mode.NORMAL, HEALTHY)
    assert normal.accept_new_jobs and normal.prefetch
    assert normal.prover_chain() == (ProverBackend.REMOTE, ProverBackend.GPU, ProverBackend.CPU)
    remote_down = flags(Mode.NORMAL, HealthSignals(gpu=B.CLOSED, remote_prover=B.OPEN))
    assert remote_down.prover_chain() == (ProverBackend.GPU, ProverBackend.CPU)
    probing = flags(Mode.DEGRADED, HealthSignals(gpu=B.OPEN, remote_prover=B.HALF_OPEN))
    assert probing.prover_chain() == (ProverBackend.CPU,) and not probing.prefetch
    minimal = flags(Mode.MINIMAL, HEALTHY)
    assert not minimal.accept_new_jobs and minimal.prove and minimal.submit
    off = flags(Mode.UNAVAILABLE, HEALTHY)
    assert not off.prove and off.prover_chain() == () and off.submit
    assert flags(Mode.NORMAL, HealthSignals()).prover_chain() == (ProverBackend.CPU,)  # no GPU, no remote


breakers = st.sampled_from(list(BreakerState))
signals = st.builds(
    HealthSignals,
    rpc=breakers,
    attester=breakers,
    gateways=st.lists(breakers, max_size=3).map(tuple),
    remote_prover=st.none() | breakers,
    gpu=st.none() | breakers,
    prove_failure_rate=st.floats(0, 1),
    submit_failure_rate=st.floats(0, 1),
)


@settings(max_examples=200)
@given(st.lists(st.tuples(signals, st.floats(0, 100)), max_size=30))
def test_never_better_than_the_signals_and_never_skips_levels_upward(steps) -> None:
    state, now = DegradationState(), 0.0
    for sig, dt in steps:
        now += dt
        before = state
        state = transition(state, sig, now)
        assert state.mode.severity >= target_mode(sig)[0].severity
        assert state.mode.severity >= before.mode.severity - 1
        if not flags(state.mode, sig).accept_new_jobs:
            assert state.mode.severity >= Mode.MINIMAL.severity
