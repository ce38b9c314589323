"""FRI on its own: a low-degree polynomial passes, a function of too high degree does not."""

import numpy as np
import pytest

from zkray.zkvm import ext as E
from zkray.zkvm import field as F
from zkray.zkvm import fri, ntt
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.transcript import Transcript

SHIFT = F.GENERATOR


def run_fri(coeffs_ext, log_deg, log_blowup=2, log_arity=3, log_final=2, queries=30):
    log_m = log_deg + log_blowup
    m = 1 << log_m
    evals = ntt.coset_ntt(np.ascontiguousarray(coeffs_ext.T), SHIFT, m).T.copy()  # (m, 4)
    schedule = []
    d = log_deg
    while d > log_final:
        a = min(log_arity, d - log_final)
        schedule.append(a)
        d -= a
    pt = Transcript(b"fri-test")
    commitment = fri.commit_phase(evals, SHIFT, schedule, 1 << d, pt)
    indices = pt.challenge_indices(b"q", queries, log_m)
    openings = [tree.open(idx) for tree, idx in
                zip(commitment.trees, fri.query_indices_per_layer(indices, log_m, schedule), strict=True)]
    vt = Transcript(b"fri-test")
    betas = []
    for i, tree in enumerate(commitment.trees):
        vt.absorb(b"fri root %d" % i, tree.root)
        betas.append(vt.challenge_ext(b"fri fold %d" % i))
    vt.absorb_field(b"fri final", commitment.final)
    assert vt.challenge_indices(b"q", queries, log_m) == indices
    fri.verify_queries([t.root for t in commitment.trees], commitment.final, betas, indices, evals[indices],
                       openings, log_m, SHIFT, schedule)


@pytest.mark.parametrize(("log_deg", "log_arity"), [(4, 1), (7, 3), (9, 2), (10, 3)])
def test_low_degree_passes(log_deg, log_arity):
    rng = np.random.default_rng(log_deg)
    coeffs = rng.integers(0, F.P, (1 << log_deg, 4)).astype(np.uint32)
    run_fri(coeffs, log_deg, log_arity=log_arity)


def test_too_high_degree_fails():
    rng = np.random.default_rng(9)
    log_deg = 8
    coeffs = rng.integers(0, F.P, ((1 << log_deg) * 2, 4)).astype(np.uint32)  # degree 2x the claimed bound
    with pytest.raises(VerificationError):
        run_fri_claiming(coeffs, log_deg)


def run_fri_claiming(coeffs, log_deg):
    # Evaluate the too-high-degree polynomial on the domain sized for the claimed degree.
    log_m = log_deg + 2
    padded = np.zeros((1 << log_m, 4), dtype=np.uint32)
    padded[: coeffs.shape[0]] = coeffs
    evals = ntt.coset_ntt(np.ascontiguousarray(padded.T), SHIFT, 1 << log_m).T.copy()
    back = ntt.coset_intt(np.ascontiguousarray(evals.T), SHIFT).T
    run_fri(back[: 1 << log_m], log_m - 2 + 0, log_blowup=2)


def test_fold_matches_definition():
    # f(x) = Σ_j x^j f_j(x^k): fold must return Σ_j β^j f_j(y).
    rng = np.random.default_rng(1)
    k, deg = 4, 16
    coeffs = rng.integers(0, F.P, (deg, 4)).astype(np.uint32)
    beta = rng.integers(0, F.P, 4).astype(np.uint32)
    x = np.uint32(12345)
    w = F.root_of_unity(2)
    pts = np.array([int(x) * pow(w, t, F.P) % F.P for t in range(k)], dtype=np.uint32)
    vals = fri.eval_poly(coeffs, pts)  # (k, 4)
    got = fri.fold(vals[:, None, :], F.inv(np.array([x], dtype=np.uint32)), beta)[0]
    y = np.array([pow(int(x), k, F.P)], dtype=np.uint32)
    expected = np.zeros(4, dtype=np.uint32)
    for j in range(k):
        fj = fri.eval_poly(coeffs[j::k], y)[0]
        expected = F.add(expected, E.mul(fj, E.pow_ext(beta, j)))
    assert np.array_equal(got, expected)
