"""BabyBear and its extension against plain Python integer arithmetic (the naive twins)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkray.zkvm import ext as E
from zkray.zkvm import field as F

P = F.P
elems = st.integers(0, P - 1)
arrays = st.lists(elems, min_size=1, max_size=64)


def _arr(xs):
    return np.array(xs, dtype=np.uint32)


@settings(deadline=None)  # compiled kernels may JIT on the first example: no wall-clock limit
@given(arrays, arrays)
def test_base_ops_match_python_ints(xs, ys):
    n = min(len(xs), len(ys))
    a, b = _arr(xs[:n]), _arr(ys[:n])
    assert F.add(a, b).tolist() == [(x + y) % P for x, y in zip(xs, ys, strict=False)][:n]
    assert F.sub(a, b).tolist() == [(x - y) % P for x, y in zip(xs, ys, strict=False)][:n]
    assert F.mul(a, b).tolist() == [(x * y) % P for x, y in zip(xs, ys, strict=False)][:n]


@settings(deadline=None)  # the first example may JIT-compile batch_inv: no wall-clock limit in tests
@given(arrays)
def test_inverses(xs):
    a = _arr(xs)
    expected = [pow(x, P - 2, P) if x else 0 for x in xs]
    assert F.inv(a).tolist() == expected
    assert F.batch_inv(a).tolist() == expected


@settings(deadline=None)
@given(elems, st.integers(0, 300))
def test_powers_and_pow_array(base, n):
    assert F.powers(base, n).tolist() == [pow(base, i, P) for i in range(n)]
    assert F.pow_array(_arr([base]), n).tolist() == [pow(base, n, P)]


def test_roots_of_unity_have_exact_order():
    for log_n in (1, 5, 16, 27):
        w = F.root_of_unity(log_n)
        assert pow(w, 1 << log_n, P) == 1
        assert pow(w, 1 << (log_n - 1), P) == P - 1


def _ext_mul_ref(a, b):
    """Schoolbook product of degree-3 polynomials, reduced by X^4 = 11."""
    prod = [0] * 7
    for i in range(4):
        for j in range(4):
            prod[i + j] += a[i] * b[j]
    return [(prod[k] + E.W * (prod[k + 4] if k + 4 < 7 else 0)) % P for k in range(4)]


ext_elems = st.lists(elems, min_size=4, max_size=4)


@settings(max_examples=300, deadline=None)
@given(ext_elems, ext_elems)
def test_ext_mul_matches_schoolbook(a, b):
    assert E.mul(_arr(a), _arr(b)).tolist() == _ext_mul_ref(a, b)


@settings(max_examples=300, deadline=None)
@given(ext_elems)
def test_ext_inverse(a):
    if not any(a):
        return
    inv = E.inv(_arr(a))
    assert E.mul(_arr(a), inv).tolist() == [1, 0, 0, 0]
    assert E.batch_inv(_arr([a, a]))[1].tolist() == inv.tolist()


def test_ext_is_a_field_x4_minus_11_irreducible():
    # 11 must be a non-square mod p (otherwise X^4 - 11 factors over F_p) and p ≡ 1 mod 4.
    assert pow(11, (P - 1) // 2, P) == P - 1
    assert P % 4 == 1


@settings(deadline=None)
@given(ext_elems, st.integers(0, 100))
def test_ext_powers(x, n):
    pw = E.powers(_arr(x), n)
    ref = [1, 0, 0, 0]
    for i in range(n):
        assert pw[i].tolist() == ref
        ref = _ext_mul_ref(ref, x)


def _lincomb_ref(cols, coeffs):
    cols, coeffs = cols.astype(object), coeffs.astype(object)
    return (cols.T.dot(coeffs) % P).astype(np.uint32)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 5000), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_lincomb_matches_python_integers(w, m, k, seed):
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, P, (w, m)).astype(np.uint32)
    coeffs = rng.integers(0, P, (w, k)).astype(np.uint32)
    coeffs[rng.random((w, k)) < 0.2] = 0  # the kernel skips zero coefficients
    start = rng.integers(0, P, (m, k)).astype(np.uint32)
    out = start.copy()
    F.lincomb_into(cols, coeffs, out)
    assert np.array_equal(out, (start.astype(object) + _lincomb_ref(cols, coeffs)) % P)


def test_lincomb_does_not_overflow_past_2_16_terms():
    # The split accumulators are reduced every 2^16 terms; all-maximal values check they cannot wrap.
    w = (1 << 16) + 3
    cols = np.full((w, 3), P - 1, dtype=np.uint32)
    coeffs = np.full((w, 2), P - 1, dtype=np.uint32)
    out = np.full((3, 2), P - 1, dtype=np.uint32)
    F.lincomb_into(cols, coeffs, out)
    assert out.tolist() == [[(w - 1) % P] * 2] * 3  # −1 + (−1)(−1) summed w times


@pytest.mark.parametrize("n", [1, 4095, 4096, 4097, 9000])
def test_ext_batch_inv_matches_single_inverses_across_chunks(n):
    rng = np.random.default_rng(n)
    a = rng.integers(0, P, (n, 4)).astype(np.uint32)
    a[:, 0] |= 1  # no zero element
    assert np.array_equal(E.batch_inv(a), E.inv(a))


@pytest.mark.parametrize("shape", [(7,), (1,), (0,)])
def test_ext_mul_base_compiled_rows_match_broadcasting(shape):
    # (n, 4) × (n,) takes the compiled loop; its twin is numpy's broadcasting product.
    rng = np.random.default_rng(shape[0])
    a = rng.integers(0, P, (*shape, 4)).astype(np.uint32)
    b = rng.integers(0, P, shape).astype(np.uint32)
    ref = [[int(x) * int(y) % P for x in row] for row, y in zip(a, b, strict=True)]
    assert E.mul_base(a, b).tolist() == ref
    assert E.mul_base(a[::2], b[::2]).tolist() == ref[::2]  # strided views too
