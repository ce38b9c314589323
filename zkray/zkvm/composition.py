"""The constraint composition: all constraints, each divided by its zerofier, folded by powers of β.

    Q(x) = Σ_k β^k · c_k(x) / Z_k(x)
    Z_all(x) = x^n − 1,  Z_transition(x) = (x^n − 1) / (x − g^(n−1)),  Z_row r(x) = x − g^r

The prover evaluates Q over the whole LDE coset (`LdeBuilder`, arrays); the verifier evaluates the same
sum at the out-of-domain point z from the opened values (`quotient_at`). Both fold constraints in the
order `Air.eval` declares them, so the same β^k meets the same constraint.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zkray.zkvm import ext as E
from zkray.zkvm import field as F
from zkray.zkvm.air import ConstraintBuilder, PointBuilder, Val


class LdeBuilder(ConstraintBuilder):
    """Accumulates Σ β^k c_k per zerofier kind over the LDE coset (m = n·blowup points)."""

    def __init__(self, main: list[Val], main_next: list[Val], aux: list[Val], aux_next: list[Val],
                 challenges: list[Val], public: Sequence[int], n: int, m: int, beta: np.ndarray) -> None:
        self.main, self.main_next, self.aux, self.aux_next = main, main_next, aux, aux_next
        self.challenges, self.public, self.n = challenges, public, n
        self._m = m
        self._beta = beta
        self._beta_k = np.array([1, 0, 0, 0], dtype=np.uint32)
        self.acc_all = np.zeros((m, 4), dtype=np.uint32)
        self.acc_transition = np.zeros((m, 4), dtype=np.uint32)
        self.acc_rows: dict[int, np.ndarray] = {}
        # Base-field constraint columns wait here with their β^k and are folded in one compiled pass
        # (F.lincomb_into) per batch, instead of two full passes over an (m, 4) array per constraint.
        self._pending: dict[int, tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]] = {}

    _BATCH = 32

    def _fold(self, acc: np.ndarray, expr: Val | int) -> None:
        e = Val._coerce(expr)
        if not e.is_ext and np.shape(e.v) == (self._m,):
            _, cols, coeffs = self._pending.setdefault(id(acc), (acc, [], []))
            cols.append(np.asarray(e.v, dtype=np.uint32))
            coeffs.append(self._beta_k)
            if len(cols) >= self._BATCH:
                self._flush(id(acc))
        else:
            term = E.mul(e.v, self._beta_k) if e.is_ext else F.mul(np.asarray(e.v)[..., None], self._beta_k)
            acc[:] = F.add(acc, term)
        self._beta_k = E.mul(self._beta_k, self._beta)

    def _flush(self, key: int) -> None:
        acc, cols, coeffs = self._pending.pop(key)
        if cols:
            F.lincomb_into(np.stack(cols), np.stack(coeffs), acc)

    def assert_zero(self, name: str, expr: Val) -> None:
        self._fold(self.acc_all, expr)

    def assert_transition(self, name: str, expr: Val) -> None:
        self._fold(self.acc_transition, expr)

    def assert_row(self, name: str, expr: Val, row: int) -> None:
        row %= self.n
        acc = self.acc_rows.setdefault(row, np.zeros((self._m, 4), dtype=np.uint32))
        self._fold(acc, expr)

    def quotient(self, xs: np.ndarray) -> np.ndarray:
        """Q on the coset points `xs` (m,), as an (m, 4) array."""
        for key in list(self._pending):
            self._flush(key)
        n, m = self.n, self._m
        blowup = m // n
        # x^n takes only `blowup` distinct values on the coset: invert those once.
        xn = F.pow_array(xs[:blowup], n)
        z_inv = F.inv(F.sub(xn, np.uint32(1)))
        z_inv_full = np.tile(z_inv, n)
        g = F.root_of_unity(n.bit_length() - 1)
        last = np.uint32(pow(g, n - 1, F.P))
        numer = F.add(self.acc_all, E.mul_base(self.acc_transition, F.sub(xs, last)))
        q = E.mul_base(numer, z_inv_full)
        for row, acc in self.acc_rows.items():
            inv = F.batch_inv(F.sub(xs, np.uint32(pow(g, row, F.P))))
            q = F.add(q, E.mul_base(acc, inv))
        return q


def quotient_at(values: list[tuple[str, int, np.ndarray]], beta: np.ndarray, z: np.ndarray, n: int) -> np.ndarray:
    """The verifier's Q(z) from the constraint values a `PointBuilder` recorded at z."""
    g = F.root_of_unity(n.bit_length() - 1)
    one = np.array([1, 0, 0, 0], dtype=np.uint32)
    z_n_minus_1 = F.sub(E.pow_ext(z, n), one)
    z_inv = E.inv(z_n_minus_1)
    z_minus_last = F.sub(z, E.from_base(pow(g, n - 1, F.P)))
    total = np.zeros(4, dtype=np.uint32)
    beta_k = one
    for kind, row, value in values:
        if kind == "all":
            term = E.mul(value, z_inv)
        elif kind == "transition":
            term = E.mul(E.mul(value, z_minus_last), z_inv)
        else:
            term = E.mul(value, E.inv(F.sub(z, E.from_base(pow(g, row, F.P)))))
        total = F.add(total, E.mul(term, beta_k))
        beta_k = E.mul(beta_k, beta)
    return total


__all__ = ["LdeBuilder", "PointBuilder", "quotient_at"]
