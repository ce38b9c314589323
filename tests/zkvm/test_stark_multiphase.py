"""The multi-phase trace machinery, exercised by a LogUp byte-range check (what memory and range
arguments will build on): honest traces prove; an out-of-range value never verifies."""

import numpy as np
import pytest

from zkray.zkvm import field as F
from zkray.zkvm import logup
from zkray.zkvm import proof as proof_codec
from zkray.zkvm.air import Air, ConstraintBuilder
from zkray.zkvm.errors import ProofError, VerificationError
from zkray.zkvm.params import DEFAULT_PARAMS
from zkray.zkvm.prover import prove
from zkray.zkvm.verifier import verify_seal

V0, V1, TABLE, MULT = 0, 1, 2, 3


class ByteRangeAir(Air):
    name = "test-byte-range"
    main_width = 4
    aux_width = logup.aux_width(2)
    num_challenges = 1
    max_degree = 2

    def log_trace_length(self, public):
        return int(public[0])

    def sample_public(self):
        return (8,)

    def eval(self, b: ConstraintBuilder) -> None:
        t, t_next = b.main[TABLE], b.main_next[TABLE]
        b.assert_row("table starts at 0", t, 0)
        b.assert_row("table ends at 255", t - 255, -1)
        b.assert_transition("table steps by 0 or 1", (t_next - t) * (t_next - t - 1))
        logup.constrain(b, looked_up=[V0, V1], table=TABLE, multiplicity=MULT)

    def generate_aux(self, main, challenges):
        return logup.generate(main[[V0, V1]], main[TABLE], main[MULT], challenges[0])


AIR = ByteRangeAir()


def make_trace(log_n, seed, values=None):
    n = 1 << log_n
    rng = np.random.default_rng(seed)
    vals = rng.integers(0, 256, (2, n)) if values is None else values
    table = np.minimum(np.arange(n), 255)
    mult = np.zeros(n, dtype=np.int64)
    counts = np.bincount(vals[(vals >= 0) & (vals < 256)].ravel(), minlength=256)
    mult[:256] = counts[:256]
    trace = np.stack([vals[0], vals[1], table, mult]).astype(np.int64) % F.P
    return trace.astype(np.uint32)


@pytest.mark.parametrize(("log_n", "seed"), [(8, 1), (9, 2), (10, 3)])
def test_range_checked_trace_proves_and_verifies(log_n, seed):
    trace = make_trace(log_n, seed)
    seal = proof_codec.encode(prove(AIR, trace, (log_n,)))
    verify_seal(AIR, seal, (log_n,), DEFAULT_PARAMS)


def test_out_of_range_value_is_refused_and_never_verifies():
    vals = np.random.default_rng(5).integers(0, 256, (2, 256))
    vals[1, 77] = 256  # one byte too many
    trace = make_trace(8, 0, vals)
    with pytest.raises(ProofError, match="logup running sum"):
        prove(AIR, trace, (8,))
    seal = proof_codec.encode(prove(AIR, trace, (8,), check=False))
    with pytest.raises(VerificationError):
        verify_seal(AIR, seal, (8,), DEFAULT_PARAMS)


def test_wrong_multiplicity_never_verifies():
    trace = make_trace(8, 4)
    trace[MULT, 10] += 1
    seal = proof_codec.encode(prove(AIR, trace, (8,), check=False))
    with pytest.raises(VerificationError):
        verify_seal(AIR, seal, (8,), DEFAULT_PARAMS)


def test_tampered_aux_trace_never_verifies(monkeypatch):
    # A prover that commits an auxiliary column other than the honest one.
    honest = ByteRangeAir.generate_aux

    def forged(self, main, challenges):
        aux = honest(self, main, challenges)
        aux[3, 100, 0] = (int(aux[3, 100, 0]) + 1) % F.P
        return aux

    monkeypatch.setattr(ByteRangeAir, "generate_aux", forged)
    trace = make_trace(8, 6)
    with pytest.raises(ProofError):
        prove(AIR, trace, (8,))
    seal = proof_codec.encode(prove(AIR, trace, (8,), check=False))
    with pytest.raises(VerificationError):
        verify_seal(AIR, seal, (8,), DEFAULT_PARAMS)


class TooHighDegreeAir(ByteRangeAir):
    """Declares max_degree 2 but adds a degree-2 boundary constraint (quotient would need 2 chunks)."""

    name = "test-bad-degree"

    def sample_public(self):
        return (8, 0)

    def eval(self, b):
        super().eval(b)
        b.assert_row("degree-2 boundary", (b.main[V0] - int(b.public[1])) * b.main[V1], 0)


def test_undeclared_constraint_degree_is_reported():
    trace = make_trace(8, 2)
    with pytest.raises(ProofError, match="higher degree"):
        prove(TooHighDegreeAir(), trace, (8, int(trace[V0, 0])))
