"""FRI: proves that committed evaluations on a coset are close to a polynomial of low degree.

Evaluations live on the coset s·<ω_M> in natural order. A layer folds by k = 2^a: the k points
x·ω_k^t (t < k) sit at positions i + t·M/k, share y = x^k, and form one Merkle leaf, so a query opens
one leaf per layer. Writing f(x) = Σ_j x^j f_j(x^k), the fold is g(y) = Σ_j β^j f_j(y), computed from
the leaf by an inverse DFT of size k; the next layer lives on the coset s^k·<ω_M^k>. When the degree
bound reaches 2^final the prover sends the polynomial itself, which the verifier evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from zkray.zkvm import ext as E
from zkray.zkvm import field as F
from zkray.zkvm import merkle, ntt
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.merkle import MerkleTree
from zkray.zkvm.transcript import Transcript

if TYPE_CHECKING:
    from zkray.zkvm.backend import ArrayBackend


def fold(values: np.ndarray, x_inv: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Fold cosets: values (k, c, 4) are f at x_i·ω_k^t; x_inv (c,) = 1/x_i; returns g(x_i^k) (c, 4)."""
    k = values.shape[0]
    w_inv = pow(F.root_of_unity(k.bit_length() - 1), F.P - 2, F.P)
    k_inv = pow(k, F.P - 2, F.P)
    # u_j = x^j f_j(y) = (1/k) Σ_t ω_k^(-tj) v_t
    u = []
    for j in range(k):
        acc = np.zeros(values.shape[1:], dtype=np.uint32)
        for t in range(k):
            coef = np.uint32(pow(w_inv, t * j, F.P) * k_inv % F.P)
            acc = F.add(acc, F.mul(values[t], coef))
        u.append(acc)
    # g = Σ_j (β / x)^j u_j, by Horner
    r = E.mul_base(np.broadcast_to(beta, (*x_inv.shape, 4)), x_inv)
    g = u[k - 1]
    for j in range(k - 2, -1, -1):
        g = F.add(E.mul(g, r), u[j])
    return g


def layer_rows(evals: np.ndarray, k: int) -> np.ndarray:
    """Group an (M, 4) layer into M/k leaves of the k points sharing x^k: rows (M/k, 4k)."""
    m = evals.shape[0]
    return np.ascontiguousarray(evals.reshape(k, m // k, 4).transpose(1, 0, 2).reshape(m // k, 4 * k))


@dataclass
class FriCommitment:
    trees: list[MerkleTree]
    final: np.ndarray


def commit_phase(
    evals: np.ndarray, shift: int, schedule: list[int], final_len: int, transcript: Transcript,
    backend: ArrayBackend | None = None,
) -> FriCommitment:
    """Commit every layer and send the final polynomial; draws one folding challenge per layer."""
    trees: list[MerkleTree] = []
    cur, cur_shift = evals, shift
    for i, a in enumerate(schedule):
        k, m = 1 << a, cur.shape[0]
        tree = merkle.commit(layer_rows(cur, k), backend)
        trees.append(tree)
        transcript.absorb(b"fri root %d" % i, tree.root)
        beta = transcript.challenge_ext(b"fri fold %d" % i)
        log_m = m.bit_length() - 1
        x_inv = F.mul(F.powers(pow(F.root_of_unity(log_m), F.P - 2, F.P), m // k),
                      np.uint32(pow(cur_shift, F.P - 2, F.P)))
        cur = fold(cur.reshape(k, m // k, 4), x_inv, beta)
        cur_shift = pow(cur_shift, k, F.P)
    # Final polynomial: coefficients of each coordinate from the last coset.
    intt = backend.coset_intt if backend is not None else ntt.coset_intt
    coeffs = intt(np.ascontiguousarray(cur.T), cur_shift)  # (4, m_final)
    final = np.ascontiguousarray(coeffs[:, :final_len].T)
    transcript.absorb_field(b"fri final", final)
    return FriCommitment(trees, final)


def query_indices_per_layer(indices: list[int], log_m: int, schedule: list[int]) -> list[list[int]]:
    """Leaf index opened in each layer for each query (query order kept)."""
    out = []
    cur = list(indices)
    for a in schedule:
        half = 1 << (log_m - a)
        cur = [q % half for q in cur]
        out.append(cur)
        log_m -= a
    return out


def eval_poly(coeffs: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Evaluate an extension-coefficient polynomial (d, 4) at base points x (c,): (c, 4)."""
    acc = np.zeros((x.shape[0], 4), dtype=np.uint32)
    for c in coeffs[::-1]:
        acc = F.add(E.mul_base(acc, x), c)
    return acc


def open_and_fold(
    root: bytes, opening: tuple[np.ndarray, list[bytes]], cur_idx: np.ndarray, expected: np.ndarray, log_m: int,
    a: int, shift: int, beta: np.ndarray, layer: int,
) -> np.ndarray:
    """One FRI layer for every query: check the opened cosets against `root` and against the values the
    previous layer implies, then fold them; shared by the single- and mixed-height verifiers."""
    k = 1 << a
    half = 1 << (log_m - a)
    leaf, pos = cur_idx % half, cur_idx // half
    rows, siblings = opening
    uniq = sorted(set(leaf.tolist()))
    if rows.shape != (len(uniq), 4 * k):
        raise VerificationError(f"FRI layer {layer}: opening has the wrong shape")
    merkle.verify(root, log_m - a, uniq, rows, siblings)
    row_of = {v: i for i, v in enumerate(uniq)}
    coset = rows[[row_of[v] for v in leaf.tolist()]].reshape(-1, k, 4)  # (q, k, 4)
    got = coset[np.arange(len(pos)), pos]
    if not np.array_equal(got, expected):
        bad = int(np.nonzero((got != expected).any(axis=1))[0][0])
        raise VerificationError(f"FRI layer {layer}: query {bad} is inconsistent with the previous layer")
    w = F.root_of_unity(log_m)
    x = np.array([pow(w, int(i), F.P) * shift % F.P for i in leaf], dtype=np.uint32)
    return fold(coset.transpose(1, 0, 2), F.inv(x), beta)


def verify_queries(
    roots: list[bytes], final: np.ndarray, betas: list[np.ndarray], indices: list[int], first_values: np.ndarray,
    openings: list[tuple[np.ndarray, list[bytes]]], log_m: int, shift: int, schedule: list[int],
) -> None:
    """Check every query's path through the layers; `first_values` (q, 4) are the layer-0 values that the
    DEEP composition implies at the queried points. Raises VerificationError."""
    cur_idx = np.array(indices, dtype=np.int64)
    expected = first_values
    cur_shift = shift
    for layer, a in enumerate(schedule):
        k = 1 << a
        half = 1 << (log_m - a)
        leaf = cur_idx % half
        expected = open_and_fold(roots[layer], openings[layer], cur_idx, expected, log_m, a, cur_shift,
                                 betas[layer], layer)
        cur_idx = leaf
        cur_shift = pow(cur_shift, k, F.P)
        log_m -= a
    w = F.root_of_unity(log_m)
    x = np.array([pow(w, int(i), F.P) * cur_shift % F.P for i in cur_idx], dtype=np.uint32)
    if not np.array_equal(eval_poly(final, x), expected):
        raise VerificationError("FRI final polynomial does not match the last layer")
