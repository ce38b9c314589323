"""Number-theoretic transforms over BabyBear and the coset low-degree extension.

Matrices are (columns, n): every polynomial is one contiguous row of the array, so a transform of a
whole trace is one parallel loop over its columns. Natural order in and out. The naive O(n^2) twin
lives in the tests.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

from zkray.zkvm import field as F

_P = np.uint64(F.P)


@lru_cache(maxsize=64)
def _tables(log_n: int, inverse: bool) -> tuple[np.ndarray, np.ndarray]:
    n = 1 << log_n
    w = F.root_of_unity(log_n)
    if inverse:
        w = pow(w, F.P - 2, F.P)
    twiddles = F.powers(w, max(n // 2, 1))
    rev = np.zeros(n, dtype=np.int64)
    for bit in range(log_n):
        rev |= ((np.arange(n) >> bit) & 1) << (log_n - 1 - bit)
    twiddles.setflags(write=False)
    rev.setflags(write=False)
    return twiddles, rev


@numba.njit(cache=True, parallel=True)
def _ntt_inplace(mat: np.ndarray, twiddles: np.ndarray, rev: np.ndarray) -> None:
    width, n = mat.shape
    for c in numba.prange(width):
        a = mat[c]
        for i in range(n):
            j = rev[i]
            if i < j:
                a[i], a[j] = a[j], a[i]
        half = 1
        while half < n:
            stride = n // (2 * half)
            for start in range(0, n, 2 * half):
                for k in range(half):
                    w = np.uint64(twiddles[k * stride])
                    u = np.uint64(a[start + k])
                    v = (np.uint64(a[start + k + half]) * w) % _P
                    s = u + v
                    a[start + k] = np.uint32(s - _P if s >= _P else s)
                    a[start + k + half] = np.uint32(u + _P - v if u < v else u - v)
            half *= 2


def _log2(n: int) -> int:
    if n <= 0 or n & (n - 1):
        raise ValueError(f"transform length must be a power of two, got {n}")
    return n.bit_length() - 1


def ntt(mat: np.ndarray) -> np.ndarray:
    """Evaluations on the subgroup <ω_n> of the polynomials whose coefficients are the rows of `mat`."""
    out = np.array(mat, dtype=np.uint32, copy=True, ndmin=2)
    twiddles, rev = _tables(_log2(out.shape[1]), False)
    _ntt_inplace(out, twiddles, rev)
    return out


def intt(mat: np.ndarray) -> np.ndarray:
    """Coefficients of the polynomials whose evaluations on <ω_n> are the rows of `mat`."""
    out = np.array(mat, dtype=np.uint32, copy=True, ndmin=2)
    n = out.shape[1]
    twiddles, rev = _tables(_log2(n), True)
    _ntt_inplace(out, twiddles, rev)
    return F.mul(out, np.uint32(pow(n, F.P - 2, F.P)))


def coset_ntt(coeffs: np.ndarray, shift: int, size: int) -> np.ndarray:
    """Evaluations of each row's polynomial on the coset shift·<ω_size> (size >= number of coefficients)."""
    coeffs = np.asarray(coeffs, dtype=np.uint32).reshape(-1, coeffs.shape[-1])
    width, n = coeffs.shape
    if size < n:
        raise ValueError(f"coset size {size} smaller than {n} coefficients")
    padded = np.zeros((width, size), dtype=np.uint32)
    padded[:, :n] = F.mul(coeffs, F.powers(shift, n))
    twiddles, rev = _tables(_log2(size), False)
    _ntt_inplace(padded, twiddles, rev)
    return padded


def coset_intt(evals: np.ndarray, shift: int) -> np.ndarray:
    """Coefficients of each row's polynomial from its evaluations on the coset shift·<ω_n>."""
    coeffs = intt(evals)
    inv_shift = pow(shift, F.P - 2, F.P)
    return F.mul(coeffs, F.powers(inv_shift, coeffs.shape[1]))


def domain(log_n: int, shift: int = 1) -> np.ndarray:
    """The points shift·ω^i, i < 2^log_n, in natural order."""
    return F.mul(F.powers(F.root_of_unity(log_n), 1 << log_n), np.uint32(shift))
