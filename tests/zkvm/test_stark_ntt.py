"""NTT and coset LDE against the O(n^2) definition."""

import numpy as np
import pytest

from zkray.zkvm import field as F
from zkray.zkvm import ntt

P = F.P


def _naive_eval(coeffs, points):
    return [sum(int(c) * pow(int(x), j, P) for j, c in enumerate(coeffs)) % P for x in points]


@pytest.mark.parametrize("log_n", [0, 1, 2, 3, 6, 9])
def test_ntt_matches_naive_dft(log_n):
    rng = np.random.default_rng(log_n)
    n = 1 << log_n
    coeffs = rng.integers(0, P, (3, n)).astype(np.uint32)
    points = ntt.domain(log_n)
    got = ntt.ntt(coeffs)
    for row in range(3):
        assert got[row].tolist() == _naive_eval(coeffs[row], points)
    assert np.array_equal(ntt.intt(got), coeffs)


@pytest.mark.parametrize(("log_n", "log_blowup"), [(2, 1), (5, 2), (8, 3)])
def test_coset_lde_evaluates_the_same_polynomial(log_n, log_blowup):
    rng = np.random.default_rng(7)
    n, m = 1 << log_n, 1 << (log_n + log_blowup)
    evals = rng.integers(0, P, (2, n)).astype(np.uint32)
    coeffs = ntt.intt(evals)
    lde = ntt.coset_ntt(coeffs, F.GENERATOR, m)
    points = ntt.domain(log_n + log_blowup, F.GENERATOR)
    sample = rng.choice(m, min(m, 16), replace=False)
    for row in range(2):
        ref = _naive_eval(coeffs[row], points[sample])
        assert lde[row, sample].tolist() == ref
    back = ntt.coset_intt(lde, F.GENERATOR)
    assert np.array_equal(back[:, :n], coeffs) and not back[:, n:].any()


def test_non_power_of_two_is_refused():
    with pytest.raises(ValueError, match="power of two"):
        ntt.ntt(np.zeros((1, 6), dtype=np.uint32))


@pytest.mark.parametrize(("count", "size"), [(3, 16), (5, 8), (1, 4), (16, 16), (9, 64)])
def test_coset_ntt_of_a_short_coefficient_list_matches_naive(count, size):
    # The kernel skips the stages that only copy the zero tail; any count ≤ size must still be exact.
    rng = np.random.default_rng(count * size)
    coeffs = rng.integers(0, P, (2, count)).astype(np.uint32)
    got = ntt.coset_ntt(coeffs, F.GENERATOR, size)
    points = ntt.domain(size.bit_length() - 1, F.GENERATOR)
    for row in range(2):
        assert got[row].tolist() == _naive_eval(coeffs[row], points)
