"""The array-backend seam: every hot loop the prover runs goes through one of these objects.

`CompiledBackend` (numba kernels on numpy arrays) is the default. `ReferenceBackend` implements the same
operations the slow, obviously correct way (O(n^2) transforms, hashlib); the tests prove with both and
require byte-identical proofs, which is the contract any further backend — CuPy on a GPU — must meet.
Backends take and return host numpy arrays at this boundary, so the rest of the prover is unchanged.
"""

from __future__ import annotations

import hashlib
import os
from typing import Protocol

import numpy as np

from zkray.zkvm import blake2s, deep, merkle, ntt
from zkray.zkvm import ext as E
from zkray.zkvm import field as F


class ArrayBackend(Protocol):
    name: str

    def intt(self, evals: np.ndarray) -> np.ndarray:
        """Coefficients of each row from its evaluations on <ω_n>."""
        ...

    def coset_ntt(self, coeffs: np.ndarray, shift: int, size: int) -> np.ndarray:
        """Each row's polynomial on shift·<ω_size>."""
        ...

    def coset_intt(self, evals: np.ndarray, shift: int) -> np.ndarray:
        """Coefficients of each row from its evaluations on shift·<ω_n>."""
        ...

    def hash_leaves(self, rows: np.ndarray) -> np.ndarray:
        """(n, 8) leaf digests of an (n, w) matrix."""
        ...

    def hash_nodes(self, children: np.ndarray) -> np.ndarray:
        """(k, 8) parent digests of (2k, 8) children."""
        ...

    def combine_columns(self, matrices: list[np.ndarray], coeffs: np.ndarray, m: int) -> np.ndarray:
        """(m, 8): Σ_j column_j · coeffs_j for two extension coefficient sets at once."""
        ...

    def ext_batch_inv(self, a: np.ndarray) -> np.ndarray:
        """Inverses of an (n, 4) extension array with no zeros."""
        ...


class CompiledBackend:
    """numba kernels over numpy arrays (multi-core through numba's parallel loops)."""

    name = "compiled"

    def intt(self, evals: np.ndarray) -> np.ndarray:
        return ntt.intt(evals)

    def coset_ntt(self, coeffs: np.ndarray, shift: int, size: int) -> np.ndarray:
        return ntt.coset_ntt(coeffs, shift, size)

    def coset_intt(self, evals: np.ndarray, shift: int) -> np.ndarray:
        return ntt.coset_intt(evals, shift)

    def hash_leaves(self, rows: np.ndarray) -> np.ndarray:
        return merkle.hash_leaves(rows)

    def hash_nodes(self, children: np.ndarray) -> np.ndarray:
        return merkle.hash_nodes(children)

    def combine_columns(self, matrices: list[np.ndarray], coeffs: np.ndarray, m: int) -> np.ndarray:
        return deep.combine_columns(matrices, coeffs, m)

    def ext_batch_inv(self, a: np.ndarray) -> np.ndarray:
        return E.batch_inv(np.ascontiguousarray(a))


def _dft(mat: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Evaluate each row (coefficients) at every point, by Python integers."""
    out = np.empty((mat.shape[0], len(points)), dtype=np.uint32)
    for r, row in enumerate(mat):
        coeffs = [int(c) for c in row]
        for i, x in enumerate(int(p) for p in points):
            acc = 0
            for c in reversed(coeffs):
                acc = (acc * x + c) % F.P
            out[r, i] = acc
    return out


class ReferenceBackend:
    """The naive twin: quadratic transforms and hashlib. Only for small traces in tests."""

    name = "reference"

    def intt(self, evals: np.ndarray) -> np.ndarray:
        return self.coset_intt(evals, 1)

    def coset_ntt(self, coeffs: np.ndarray, shift: int, size: int) -> np.ndarray:
        coeffs = np.atleast_2d(coeffs)
        return _dft(coeffs, ntt.domain(size.bit_length() - 1, shift))

    def coset_intt(self, evals: np.ndarray, shift: int) -> np.ndarray:
        evals = np.atleast_2d(evals)
        n = evals.shape[1]
        # c_j = n^-1 · shift^-j · Σ_i v_i ω^(-ij): the inverse DFT written out.
        w_inv = pow(F.root_of_unity(n.bit_length() - 1), F.P - 2, F.P)
        n_inv, s_inv = pow(n, F.P - 2, F.P), pow(shift, F.P - 2, F.P)
        out = np.empty_like(evals, dtype=np.uint32)
        for r, row in enumerate(evals):
            vals = [int(v) for v in row]
            for j in range(n):
                acc = sum(v * pow(w_inv, i * j, F.P) for i, v in enumerate(vals)) % F.P
                out[r, j] = acc * n_inv * pow(s_inv, j, F.P) % F.P
        return out

    def hash_leaves(self, rows: np.ndarray) -> np.ndarray:
        digests = [blake2s.leaf_digest(np.asarray(r, dtype="<u4").tobytes()) for r in rows]
        return np.frombuffer(b"".join(digests), dtype="<u4").reshape(-1, 8).astype(np.uint32)

    def hash_nodes(self, children: np.ndarray) -> np.ndarray:
        c = np.asarray(children, dtype="<u4")
        digests = [hashlib.blake2s(c[2 * i].tobytes() + c[2 * i + 1].tobytes(), person=blake2s.NODE_PERSON).digest()
                   for i in range(c.shape[0] // 2)]
        return np.frombuffer(b"".join(digests), dtype="<u4").reshape(-1, 8).astype(np.uint32)

    def combine_columns(self, matrices: list[np.ndarray], coeffs: np.ndarray, m: int) -> np.ndarray:
        cols = np.concatenate(matrices, axis=0).astype(object)
        out = (cols.T.dot(coeffs.astype(object))) % F.P
        return out.astype(np.uint32)

    def ext_batch_inv(self, a: np.ndarray) -> np.ndarray:
        return E.inv(a)


_BACKENDS = {"compiled": CompiledBackend, "reference": ReferenceBackend}


def default_backend() -> ArrayBackend:
    """The backend named by ZKRAY_BACKEND (default: compiled)."""
    name = os.environ.get("ZKRAY_BACKEND", "compiled")
    try:
        return _BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown ZKRAY_BACKEND {name!r}; choose one of {sorted(_BACKENDS)}") from None
