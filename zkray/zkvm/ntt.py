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
_P32 = np.uint32(F.P)
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_R = (1 << 32) % F.P  # Montgomery radix R = 2^32 mod p: twiddles are stored as w·R
_PINV = np.uint64((-pow(F.P, -1, 1 << 32)) % (1 << 32))  # −p^(−1) mod 2^32


@lru_cache(maxsize=64)
def _tables(log_n: int, inverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """(twiddles of every stage in Montgomery form, bit-reversal permutation).

    Stage `half` (butterflies of span 2·half) reads twiddles[half − 1 : 2·half − 1] = ω_(2·half)^k·R for
    k < half: contiguous, so the butterfly loop is a straight vector loop."""
    n = 1 << log_n
    twiddles = np.zeros(max(n - 1, 1), dtype=np.uint32)
    half = 1
    while half < n:
        w = F.root_of_unity(half.bit_length())
        if inverse:
            w = pow(w, F.P - 2, F.P)
        twiddles[half - 1 : 2 * half - 1] = F.mul(F.powers(w, half), np.uint32(_R))
        half *= 2
    rev = np.zeros(n, dtype=np.int64)
    for bit in range(log_n):
        rev |= ((np.arange(n) >> bit) & 1) << (log_n - 1 - bit)
    twiddles.setflags(write=False)
    rev.setflags(write=False)
    return twiddles, rev


@numba.njit(cache=True, error_model="numpy")
def _butterflies(blocks: np.ndarray, tw: np.ndarray) -> None:
    """One DIT stage over a row viewed as (blocks, 2, half): (lo, hi) <- (lo + w·hi, lo − w·hi) with
    w = tw·R^(−1) (Montgomery product).

    Only 32×32→64-bit products, shifts and compares, so LLVM vectorises the loop over k (the `% p` of a
    64-bit product it cannot): t = hi·w', m = (t mod 2^32)·(−p^(−1)) mod 2^32, (t + m·p)/2^32 ≡ hi·w
    (mod p) and lies below 2p (t < 2^62, m·p < 2^63), so one conditional subtraction makes it canonical.
    The 3-D view (rather than a slice per block) keeps short spans from paying an array per block."""
    nb, _, half = blocks.shape
    for bi in range(nb):
        lo = blocks[bi, 0]
        hi = blocks[bi, 1]
        for k in range(half):
            v = _mont_mul(hi[k], tw[k])
            u = lo[k]
            s = u + v
            lo[k] = s - _P32 if s >= _P32 else s
            hi[k] = u + _P32 - v if u < v else u - v


@numba.njit(cache=True, inline="always")
def _mont_mul(x: np.uint32, w: np.uint32) -> np.uint32:
    """x·w·R^(−1) mod p, canonical (see `_butterflies`)."""
    t = np.uint64(x) * np.uint64(w)
    m = ((t & _M32) * _PINV) & _M32
    v = np.uint32((t + m * _P) >> _S32)
    return v - _P32 if v >= _P32 else v


@numba.njit(cache=True, error_model="numpy")
def _stages(a: np.ndarray, twiddles: np.ndarray, half: int) -> None:
    """The DIT butterfly stages of span 2·half and up over one bit-reversed row."""
    n = a.shape[0]
    while half < min(n, 8):  # short spans: a scalar loop beats a call per 1–4 butterflies
        for start in range(0, n, 2 * half):
            for k in range(half):
                v = _mont_mul(a[start + k + half], twiddles[half - 1 + k])
                u = a[start + k]
                s = u + v
                a[start + k] = s - _P32 if s >= _P32 else s
                a[start + k + half] = u + _P32 - v if u < v else u - v
        half *= 2
    while half < n:
        _butterflies(a.reshape((n // (2 * half), 2, half)), twiddles[half - 1 : 2 * half - 1])
        half *= 2


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _ntt_inplace(mat: np.ndarray, twiddles: np.ndarray, rev: np.ndarray) -> None:
    """Radix-2 DIT over each row: in-place bit reversal, then `_stages`."""
    width, n = mat.shape
    for c in numba.prange(width):
        a = mat[c]
        for i in range(n):
            j = rev[i]
            if i < j:
                a[i], a[j] = a[j], a[i]
        _stages(a, twiddles, 1)


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _lde(coeffs: np.ndarray, twiddles: np.ndarray, rev: np.ndarray, out: np.ndarray) -> None:
    """out[c] = NTT of coeffs[c] zero-padded to out's length (2^b times longer).

    Bit reversal sends coefficient i < n to rev(i), a multiple of 2^b, and the zero tail to the other
    positions; the first b stages then only copy each block's first value across the block. So the
    kernel writes each coefficient to its whole block (no zero padding, no swap pass) and starts the
    butterflies at span 2^(b+1)."""
    width, n = coeffs.shape
    size = out.shape[1]
    block = size // n
    for c in numba.prange(width):
        a = out[c]
        src = coeffs[c]
        for i in range(n):
            r = rev[i]
            x = src[i]
            for t in range(block):
                a[r + t] = x
        _stages(a, twiddles, block)


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
    log_size = _log2(size)
    m = 1 << max(n - 1, 0).bit_length()  # coefficients padded to a power of two (its zero tail included)
    scaled = np.zeros((width, m), dtype=np.uint32)
    scaled[:, :n] = F.mul(coeffs, F.powers(shift, n))
    twiddles, rev = _tables(log_size, False)
    out = np.empty((width, size), dtype=np.uint32)
    _lde(scaled, twiddles, rev, out)
    return out


def coset_intt(evals: np.ndarray, shift: int) -> np.ndarray:
    """Coefficients of each row's polynomial from its evaluations on the coset shift·<ω_n>."""
    coeffs = intt(evals)
    inv_shift = pow(shift, F.P - 2, F.P)
    return F.mul(coeffs, F.powers(inv_shift, coeffs.shape[1]))


def domain(log_n: int, shift: int = 1) -> np.ndarray:
    """The points shift·ω^i, i < 2^log_n, in natural order."""
    return F.mul(F.powers(F.root_of_unity(log_n), 1 << log_n), np.uint32(shift))
