"""The degree-4 extension F_p[X]/(X^4 - 11): where challenges live, so that soundness is not capped by |F_p|.

X^4 - 11 is irreducible over BabyBear (11 is not a square and p ≡ 1 mod 4), the choice Plonky3 makes too.
An element is a trailing axis of four uint32 coordinates (c0 + c1·X + c2·X^2 + c3·X^3); the kernels are
numba gufuncs, so they broadcast over leading axes like numpy ufuncs.
"""

from __future__ import annotations

import numba
import numpy as np

from zkray.zkvm import field as F

W = 11
"""X^4 = W in the extension."""
D = 4
_P = np.uint64(F.P)
_W = np.uint64(W)


@numba.njit(cache=True, inline="always")
def _mul4(a0, a1, a2, a3, b0, b1, b2, b3):  # noqa: ANN001, ANN202 - numba scalar kernel
    # Each product < 2^62; reduce before summing so sums stay below 2^64.
    def m(x, y):  # noqa: ANN001, ANN202
        return (np.uint64(x) * np.uint64(y)) % _P

    c0 = (m(a0, b0) + _W * ((m(a1, b3) + m(a2, b2) + m(a3, b1)) % _P)) % _P
    c1 = (m(a0, b1) + m(a1, b0) + _W * ((m(a2, b3) + m(a3, b2)) % _P)) % _P
    c2 = (m(a0, b2) + m(a1, b1) + m(a2, b0) + _W * m(a3, b3)) % _P
    c3 = (m(a0, b3) + m(a1, b2) + m(a2, b1) + m(a3, b0)) % _P
    return np.uint32(c0), np.uint32(c1), np.uint32(c2), np.uint32(c3)


@numba.njit(cache=True, inline="always")
def _inv4(a0, a1, a2, a3):  # noqa: ANN001, ANN202 - numba scalar kernel
    # a = A + X·B with A = a0 + a2·Y, B = a1 + a3·Y, Y = X^2, Y^2 = W.
    # a·(A - X·B) = A^2 - Y·B^2 =: c ∈ F_p[Y]/(Y^2 - W); c·conj(c) = c0^2 - W·c1^2 ∈ F_p.
    def m(x, y):  # noqa: ANN001, ANN202
        return (np.uint64(x) * np.uint64(y)) % _P

    # A^2 = a0^2 + W a2^2 + 2 a0 a2 Y ; B^2 = a1^2 + W a3^2 + 2 a1 a3 Y
    a_sq0 = (m(a0, a0) + _W * m(a2, a2)) % _P
    a_sq1 = (2 * m(a0, a2)) % _P
    b_sq0 = (m(a1, a1) + _W * m(a3, a3)) % _P
    b_sq1 = (2 * m(a1, a3)) % _P
    # Y·B^2 = W b_sq1 + b_sq0 Y
    c0 = (a_sq0 + _P - (_W * b_sq1) % _P) % _P
    c1 = (a_sq1 + _P - b_sq0) % _P
    norm = (m(c0, c0) + _P - (_W * m(c1, c1)) % _P) % _P
    ninv = np.uint64(F.inv_s(np.uint32(norm)))
    # c^{-1} = (c0 - c1 Y) / norm
    d0 = m(c0, ninv)
    d1 = m((_P - c1) % _P, ninv)
    # a^{-1} = (A - X B)·(d0 + d1 Y) with A - X B = a0 - a1 X + a2 X^2 - a3 X^3
    n1 = (_P - np.uint64(a1)) % _P
    n3 = (_P - np.uint64(a3)) % _P
    # (a0 + a2 Y)(d0 + d1 Y) = a0 d0 + W a2 d1 + (a0 d1 + a2 d0) Y  -> coords 0 and 2
    e0 = (m(a0, d0) + _W * m(a2, d1)) % _P
    e2 = (m(a0, d1) + m(a2, d0)) % _P
    # X (n1 + n3 Y)(d0 + d1 Y) -> coords 1 and 3
    e1 = (m(n1, d0) + _W * m(n3, d1)) % _P
    e3 = (m(n1, d1) + m(n3, d0)) % _P
    return np.uint32(e0), np.uint32(e1), np.uint32(e2), np.uint32(e3)


@numba.guvectorize(["void(uint32[:], uint32[:], uint32[:])"], "(k),(k)->(k)", cache=True, nopython=True)
def mul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Extension product, broadcasting over leading axes."""
    out[0], out[1], out[2], out[3] = _mul4(a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3])


@numba.guvectorize(["void(uint32[:], uint32[:])"], "(k)->(k)", cache=True, nopython=True)
def inv(a: np.ndarray, out: np.ndarray) -> None:
    """Extension inverse (zero maps to zero)."""
    out[0], out[1], out[2], out[3] = _inv4(a[0], a[1], a[2], a[3])


@numba.njit(cache=True, parallel=True)
def batch_inv(a: np.ndarray) -> np.ndarray:
    """Montgomery's trick over an (n, 4) array, in independent chunks of 4096 run in parallel (one
    extension inversion per chunk); callers guarantee no zero element."""
    n = a.shape[0]
    out = np.empty((n, 4), dtype=np.uint32)
    chunk = 4096
    for ci in numba.prange((n + chunk - 1) // chunk):
        lo = ci * chunk
        hi = min(n, lo + chunk)
        prefix = np.empty((hi - lo, 4), dtype=np.uint32)
        c0, c1, c2, c3 = np.uint32(1), np.uint32(0), np.uint32(0), np.uint32(0)
        for i in range(lo, hi):
            prefix[i - lo, 0], prefix[i - lo, 1], prefix[i - lo, 2], prefix[i - lo, 3] = c0, c1, c2, c3
            c0, c1, c2, c3 = _mul4(c0, c1, c2, c3, a[i, 0], a[i, 1], a[i, 2], a[i, 3])
        c0, c1, c2, c3 = _inv4(c0, c1, c2, c3)
        for i in range(hi - 1, lo - 1, -1):
            p = prefix[i - lo]
            out[i, 0], out[i, 1], out[i, 2], out[i, 3] = _mul4(c0, c1, c2, c3, p[0], p[1], p[2], p[3])
            c0, c1, c2, c3 = _mul4(c0, c1, c2, c3, a[i, 0], a[i, 1], a[i, 2], a[i, 3])
    return out


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Coordinate-wise sum."""
    return F.add(a, b)


def sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Coordinate-wise difference."""
    return F.sub(a, b)


@numba.njit(cache=True, error_model="numpy")
def _mul_base_rows(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    for i in range(a.shape[0]):
        bi = np.uint64(b[i])
        for c in range(D):
            out[i, c] = np.uint32((np.uint64(a[i, c]) * bi) % _P)


def mul_base(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """Extension array times base-field array (or scalar) broadcast along the coordinate axis.

    The common case, an (n, 4) column times an (n,) column, runs as one compiled loop (2x numpy's
    broadcasting ufunc, which the constraint evaluation and the LogUp columns call hundreds of times)."""
    b = np.asarray(b, dtype=np.uint32)
    a_arr = np.asarray(a)
    if a_arr.dtype == np.uint32 and a_arr.ndim == 2 and b.ndim == 1 and a_arr.shape == (b.shape[0], D):
        out = np.empty(a_arr.shape, dtype=np.uint32)
        _mul_base_rows(a_arr, b, out)
        return out
    return F.mul(a, b[..., None])


def from_base(b: np.ndarray | int) -> np.ndarray:
    """Embed base elements as extension elements (c0 = b)."""
    b = np.asarray(b, dtype=np.uint32)
    out = np.zeros((*b.shape, D), dtype=np.uint32)
    out[..., 0] = b
    return out


def powers(x: np.ndarray, n: int) -> np.ndarray:
    """[1, x, …, x^(n-1)] as an (n, 4) array, by doubling blocks."""
    out = np.zeros((n, D), dtype=np.uint32)
    if n == 0:
        return out
    out[0, 0] = 1
    filled = 1
    step = np.asarray(x, dtype=np.uint32)  # x^filled
    while filled < n:
        take = min(filled, n - filled)
        out[filled : filled + take] = mul(out[:take], step)
        filled += take
        step = mul(step, step) if take == filled - take else pow_ext(x, filled)
    return out


def pow_ext(x: np.ndarray, e: int) -> np.ndarray:
    """x^e for one extension element."""
    result = np.array([1, 0, 0, 0], dtype=np.uint32)
    base = np.asarray(x, dtype=np.uint32)
    while e > 0:
        if e & 1:
            result = mul(result, base)
        base = mul(base, base)
        e >>= 1
    return result


def to_ints(x: np.ndarray) -> tuple[int, int, int, int]:
    """One extension element as plain Python ints (for hashing, printing, tests)."""
    return tuple(int(v) for v in np.asarray(x).reshape(D))  # type: ignore[return-value]


def from_coords(values: np.ndarray) -> np.ndarray:
    """Σ_c values[c]·X^c: rebuild an extension value from the values of its 4 coordinate polynomials.

    Extension columns are committed as 4 base columns; opening each at an extension point gives 4
    extension values, and this recombines them (multiplying by X^c shifts coordinates, wrapping with W).
    """
    values = np.asarray(values, dtype=np.uint32)
    out = np.zeros(values.shape[1:], dtype=np.uint32)
    for c in range(D):
        basis = np.zeros(D, dtype=np.uint32)
        basis[c] = 1
        out = F.add(out, mul(values[c], basis))
    return out
