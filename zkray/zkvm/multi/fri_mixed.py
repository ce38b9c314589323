"""One FRI proof over DEEP functions of different degrees (one per height group), tallest first.

FRI starts on the tallest group's DEEP evaluations. Folding is scheduled so that the degree bound meets
every shorter group's height exactly; when the current layer has the size of group g's LDE domain, the
prover adds μ^g·DEEP_g to it before committing that layer (or before sending the final polynomial), as
Plonky3's mixed-height FRI does. A query position q on the tallest domain lands at q mod m_g in group g's
domain, so one set of query positions serves every group.

The folded layer lives on the coset s^K·⟨ω⟩ while DEEP_g was evaluated on s·⟨ω⟩ at the same indices;
those values are the evaluations on s^K·⟨ω⟩ of D̃_g(y) = DEEP_g(y·s^(1−K)), a polynomial of the same
degree, so the sum is low degree exactly when each part is (w.h.p. over μ), and the verifier recomputes
DEEP_g at the actual point s·ω^i it was evaluated at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from zkray.zkvm import ext as E
from zkray.zkvm import field as F
from zkray.zkvm import merkle, ntt
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.fri import FriCommitment, eval_poly, fold, layer_rows, open_and_fold
from zkray.zkvm.params import StarkParams
from zkray.zkvm.transcript import Transcript

if TYPE_CHECKING:
    from zkray.zkvm.backend import ArrayBackend


def schedule(heights: Sequence[int], params: StarkParams) -> tuple[list[int], int]:
    """(fold arity log2 per layer, final log degree) for distinct heights given tallest first: fold by
    2^fri_log_arity, but never past the next group's height, down to min(final degree, smallest height)."""
    final = min(params.fri_log_final_degree, heights[-1])
    stops = [*sorted({h for h in heights if h > final}, reverse=True)[1:], final]
    out, log_deg = [], heights[0]
    for stop in stops:
        while log_deg > stop:
            a = min(params.fri_log_arity, log_deg - stop)
            out.append(a)
            log_deg -= a
    return out, final


def _mix(cur: np.ndarray, log_deg: int, heights: Sequence[int], deeps: Sequence[np.ndarray],
         mu_powers: np.ndarray) -> np.ndarray:
    for g, h in enumerate(heights):
        if g and h == log_deg:
            cur = F.add(cur, E.mul(deeps[g], mu_powers[g]))
    return cur


def commit_phase(deeps: Sequence[np.ndarray], heights: Sequence[int], params: StarkParams, mu: np.ndarray,
                 transcript: Transcript, backend: ArrayBackend | None = None) -> FriCommitment:
    """`deeps[g]` are group g's DEEP values on s·⟨ω_(m_g)⟩ (natural order); heights are distinct, tallest first."""
    arities, final = schedule(heights, params)
    mu_powers = E.powers(mu, len(heights))
    trees: list[merkle.MerkleTree] = []
    cur, cur_shift, log_deg = deeps[0], F.GENERATOR, heights[0]
    for i, a in enumerate(arities):
        k, m = 1 << a, cur.shape[0]
        tree = merkle.commit(layer_rows(cur, k), backend)
        trees.append(tree)
        transcript.absorb(b"fri root %d" % i, tree.root)
        beta = transcript.challenge_ext(b"fri fold %d" % i)
        x_inv = F.mul(F.powers(pow(F.root_of_unity(m.bit_length() - 1), F.P - 2, F.P), m // k),
                      np.uint32(pow(cur_shift, F.P - 2, F.P)))
        cur = fold(cur.reshape(k, m // k, 4), x_inv, beta)
        cur_shift, log_deg = pow(cur_shift, k, F.P), log_deg - a
        cur = _mix(cur, log_deg, heights, deeps, mu_powers)
    intt = backend.coset_intt if backend is not None else ntt.coset_intt
    coeffs = intt(np.ascontiguousarray(cur.T), cur_shift)  # (4, m_final)
    final_poly = np.ascontiguousarray(coeffs[:, : 1 << final].T)
    transcript.absorb_field(b"fri final", final_poly)
    return FriCommitment(trees, final_poly)


def verify_queries(roots: list[bytes], final_poly: np.ndarray, betas: list[np.ndarray], indices: list[int],
                   deep_at: Sequence[np.ndarray], heights: Sequence[int], params: StarkParams, mu: np.ndarray,
                   openings: list[tuple[np.ndarray, list[bytes]]]) -> None:
    """Walk every query through the layers. `deep_at[g]` (q, 4): group g's DEEP value at each query's
    position in its own domain (query order). Raises VerificationError."""
    arities, _ = schedule(heights, params)
    mu_powers = E.powers(mu, len(heights))
    log_m = heights[0] + params.log_blowup
    log_deg = heights[0]
    cur_idx = np.array(indices, dtype=np.int64)
    expected = deep_at[0]
    cur_shift = F.GENERATOR
    for layer, a in enumerate(arities):
        k, half = 1 << a, 1 << (log_m - a)
        leaf = cur_idx % half
        expected = open_and_fold(roots[layer], openings[layer], cur_idx, expected, log_m, a, cur_shift,
                                 betas[layer], layer)
        cur_idx, cur_shift, log_m, log_deg = leaf, pow(cur_shift, k, F.P), log_m - a, log_deg - a
        expected = _mix(expected, log_deg, heights, deep_at, mu_powers)
    w = F.root_of_unity(log_m)
    x = np.array([pow(w, int(i), F.P) * cur_shift % F.P for i in cur_idx], dtype=np.uint32)
    if not np.array_equal(eval_poly(final_poly, x), expected):
        raise VerificationError("FRI final polynomial does not match the last layer")
