"""The DEEP composition: one low-degree function that FRI proves, binding every opened evaluation.

With all committed columns T_j (main, aux coordinates, quotient coordinates) and γ from the transcript,

    S1(x) = Σ_j γ^j T_j(x)                 (all columns, opened at z)
    S2(x) = Σ_j γ^(J+j) T_j(x)             (main and aux columns, also opened at z·g)
    DEEP(x) = (S1(x) − S1(z)) / (x − z) + (S2(x) − S2(zg)) / (x − zg)

is a polynomial of degree < n exactly when every claimed opening is right; the verifier recomputes it
at each queried point from the opened rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from zkray.zkvm import ext as E
from zkray.zkvm import field as F


def _combine(cols: np.ndarray, coeffs: np.ndarray, out: np.ndarray) -> None:
    """out[i, :] += Σ_j cols[j, i] · coeffs[j, :] (mod p), coeffs (w, 8): two extension sums at once."""
    F.lincomb_into(cols, np.ascontiguousarray(coeffs), out)


def combine_columns(matrices: list[np.ndarray], coeffs: np.ndarray, m: int) -> np.ndarray:
    """(m, 8): [S1 | S2] over the LDE domain for the column matrices (each (w_i, m)), in order."""
    out = np.zeros((m, 8), dtype=np.uint32)
    start = 0
    for mat in matrices:
        w = mat.shape[0]
        _combine(mat, np.ascontiguousarray(coeffs[start : start + w]), out)
        start += w
    return out


def coefficients(gamma: np.ndarray, n_all: int, n_shifted: int) -> np.ndarray:
    """(n_all, 8) per-column coefficients: γ^j in the first 4 lanes, γ^(J+j) (shifted columns) in the last."""
    pw = E.powers(gamma, n_all + n_shifted)
    out = np.zeros((n_all, 8), dtype=np.uint32)
    out[:, :4] = pw[:n_all]
    out[:n_shifted, 4:] = pw[n_all:]
    return out


def sums_at(values_z: np.ndarray, values_zg: np.ndarray, coeffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S1(z) and S2(zg) from the opened extension values (n_all, 4) and (n_shifted, 4)."""
    s1 = np.zeros(4, dtype=np.uint32)
    for v, c in zip(values_z, coeffs[:, :4], strict=True):
        s1 = F.add(s1, E.mul(v, c))
    s2 = np.zeros(4, dtype=np.uint32)
    for v, c in zip(values_zg, coeffs[: len(values_zg), 4:], strict=True):
        s2 = F.add(s2, E.mul(v, c))
    return s1, s2


def deep_values(sums: np.ndarray, xs: np.ndarray, z: np.ndarray, zg: np.ndarray, s1_z: np.ndarray,
                s2_zg: np.ndarray, batch_inv: Callable[[np.ndarray], np.ndarray] = E.batch_inv) -> np.ndarray:
    """DEEP(x) for points xs (c,) given [S1 | S2] at those points (c, 8)."""
    x_ext = E.from_base(xs)
    inv_z = batch_inv(np.ascontiguousarray(F.sub(x_ext, z)))
    inv_zg = batch_inv(np.ascontiguousarray(F.sub(x_ext, zg)))
    a = E.mul(F.sub(sums[:, :4], s1_z), inv_z)
    b = E.mul(F.sub(sums[:, 4:], s2_zg), inv_zg)
    return F.add(a, b)


def evaluate_at(coeffs: np.ndarray, z: np.ndarray, zg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row polynomial of coeffs (w, n) at z and at zg: two (w, 4) arrays, in one pass."""
    n = coeffs.shape[1]
    lanes = np.concatenate([E.powers(z, n), E.powers(zg, n)], axis=1)  # (n, 8)
    out = np.zeros((coeffs.shape[0], 8), dtype=np.uint32)
    _combine(np.ascontiguousarray(coeffs.T), lanes, out)
    return out[:, :4], out[:, 4:]
