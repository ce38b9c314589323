"""BabyBear, p = 15·2^27 + 1: the base field of every trace, commitment and constraint.

Elements are stored as uint32 (half the memory traffic of uint64); kernels widen to uint64, where any
product of two elements (< 2^62) fits, and reduce with `%` by the constant p, which LLVM compiles to a
multiply-and-shift. The numba ufuncs broadcast like numpy's own, so callers write array code.
"""

from __future__ import annotations

import numba
import numpy as np

P = 15 * (1 << 27) + 1
"""The BabyBear prime, 2013265921."""
TWO_ADICITY = 27
"""p - 1 = 15·2^27: the largest power-of-two multiplicative subgroup has order 2^27."""
GENERATOR = 31
"""A generator of the multiplicative group (used as the coset shift of the LDE domain)."""

_P64 = np.uint64(P)
_SIG = ["uint32(uint32, uint32)"]


@numba.vectorize(_SIG, cache=True, nopython=True)
def add(a: int, b: int) -> int:
    """a + b mod p, elementwise."""
    s = np.uint64(a) + np.uint64(b)
    return np.uint32(s - _P64 if s >= _P64 else s)


@numba.vectorize(_SIG, cache=True, nopython=True)
def sub(a: int, b: int) -> int:
    """a - b mod p, elementwise (a compare instead of a 64-bit `%`: 3x faster)."""
    return np.uint32(np.uint64(a) + _P64 - np.uint64(b) if a < b else np.uint64(a) - np.uint64(b))


@numba.vectorize(_SIG, cache=True, nopython=True)
def mul(a: int, b: int) -> int:
    """a · b mod p, elementwise."""
    return np.uint32((np.uint64(a) * np.uint64(b)) % _P64)


@numba.njit(cache=True, inline="always")
def mul_s(a: int, b: int) -> int:
    """Scalar product for use inside other kernels."""
    return np.uint32((np.uint64(a) * np.uint64(b)) % _P64)


@numba.njit(cache=True)
def pow_s(a: int, e: int) -> int:
    """Scalar a^e by square-and-multiply (e >= 0)."""
    result = np.uint64(1)
    base = np.uint64(a) % _P64
    while e > 0:
        if e & 1:
            result = (result * base) % _P64
        base = (base * base) % _P64
        e >>= 1
    return np.uint32(result)


@numba.njit(cache=True, inline="always")
def inv_s(a: int) -> int:
    """Scalar inverse by Fermat (a^(p-2)); the inverse of 0 is defined as 0 and callers never rely on it."""
    return pow_s(a, P - 2)


@numba.vectorize(["uint32(uint32)"], cache=True, nopython=True)
def inv(a: int) -> int:
    """Elementwise inverse (Fermat); use `batch_inv` for long arrays."""
    return inv_s(a)


@numba.njit(cache=True)
def batch_inv(a: np.ndarray) -> np.ndarray:
    """Montgomery's trick: n inverses for one exponentiation and 3n products. Zeros map to zero."""
    n = a.shape[0]
    out = np.empty(n, dtype=np.uint32)
    prefix = np.empty(n, dtype=np.uint32)
    acc = np.uint32(1)
    for i in range(n):
        prefix[i] = acc
        if a[i] != 0:
            acc = mul_s(acc, a[i])
    acc = inv_s(acc)
    for i in range(n - 1, -1, -1):
        if a[i] != 0:
            out[i] = mul_s(acc, prefix[i])
            acc = mul_s(acc, a[i])
        else:
            out[i] = 0
    return out


@numba.vectorize(["uint32(uint32)"], cache=True, nopython=True)
def _neg(a: int) -> int:
    return np.uint32(_P64 - np.uint64(a) if a else 0)


def neg(a: np.ndarray) -> np.ndarray:
    """-a mod p (one pass, no array of zeros)."""
    return _neg(np.asarray(a, dtype=np.uint32))


def powers(base: int, n: int) -> np.ndarray:
    """[1, base, base^2, …, base^(n-1)] by doubling blocks (vectorised, no Python loop per item)."""
    out = np.ones(n, dtype=np.uint32)
    if n > 1:
        out[1] = base % P
    filled = min(n, 2)
    while filled < n:
        take = min(filled, n - filled)
        out[filled : filled + take] = mul(out[:take], np.uint32(pow(base, filled, P)))
        filled += take
    return out


def root_of_unity(log_n: int) -> int:
    """A primitive 2^log_n-th root of unity."""
    if not 0 <= log_n <= TWO_ADICITY:
        raise ValueError(f"BabyBear has no root of unity of order 2^{log_n} (max 2^{TWO_ADICITY})")
    return pow(GENERATOR, (P - 1) >> log_n, P)


def to_field(values: np.ndarray | list[int]) -> np.ndarray:
    """Reduce integers into canonical uint32 field elements."""
    return (np.asarray(values, dtype=np.int64) % P).astype(np.uint32)


def pow_array(x: np.ndarray, e: int) -> np.ndarray:
    """Elementwise x^e for an array and one exponent (square-and-multiply over whole arrays)."""
    result = np.ones_like(np.asarray(x, dtype=np.uint32))
    base = np.asarray(x, dtype=np.uint32)
    while e > 0:
        if e & 1:
            result = mul(result, base)
        base = mul(base, base)
        e >>= 1
    return result


_LO16 = np.uint64(0xFFFF)
_S16 = np.uint64(16)
_R16 = np.uint64((1 << 16) % P)
_FLUSH = 1 << 16  # products of a 31-bit value and a 16-bit half stay below 2^47: 2^16 of them fit in 2^64


@numba.njit(cache=True, parallel=True, error_model="numpy")
def lincomb_into(cols: np.ndarray, coeffs: np.ndarray, out: np.ndarray) -> None:
    """out[i, k] += Σ_j cols[j, i]·coeffs[j, k] (mod p): many columns combined with k coefficient sets.

    The hot loop of the DEEP composition, the tuple fingerprints and the constraint folding. Each
    coefficient is split into 16-bit halves so the products (< 2^47) add up in uint64 accumulators with
    no reduction per product — a multiply-add LLVM vectorises — and the sums are reduced once per output
    (every 2^16 columns at most, before they could overflow)."""
    w, m = cols.shape
    kk = coeffs.shape[1]
    chunk = 256  # 2·k·256 accumulators of 8 bytes stay in L1/L2 while every column streams past
    for ci in numba.prange((m + chunk - 1) // chunk):
        lo = ci * chunk
        hi = min(m, lo + chunk)
        acc_lo = np.zeros((kk, hi - lo), dtype=np.uint64)
        acc_hi = np.zeros((kk, hi - lo), dtype=np.uint64)
        for j in range(w):
            col = cols[j, lo:hi]
            for k in range(kk):
                c = np.uint64(coeffs[j, k])
                if c == 0:
                    continue
                c_lo, c_hi = c & _LO16, c >> _S16
                a_lo, a_hi = acc_lo[k], acc_hi[k]
                for i in range(hi - lo):
                    x = np.uint64(col[i])
                    a_lo[i] += x * c_lo
                    a_hi[i] += x * c_hi
            if (j + 1) % _FLUSH == 0:
                for k in range(kk):
                    for i in range(hi - lo):
                        acc_lo[k, i] %= _P64
                        acc_hi[k, i] %= _P64
        for i in range(hi - lo):
            for k in range(kk):
                # acc_lo < 2^63 (at most 2^16 terms of < 2^47) and (acc_hi mod p)·2^16 < 2^47: no overflow
                v = (acc_lo[k, i] + (acc_hi[k, i] % _P64) * _R16) % _P64 + np.uint64(out[lo + i, k])
                out[lo + i, k] = np.uint32(v - _P64 if v >= _P64 else v)
