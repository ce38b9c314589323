"""The LogUp argument behind interactions, per chip: auxiliary columns, constraints, cumulative sum.

With α, β drawn after every main trace is committed, a tuple (v_1..v_a) on bus b has the fingerprint
fp = tag(b) + Σ_i β^i v_i, and a chip's share of the global sum is

    C = Σ_rows Σ_j sign_j · m_j(row) / (α − fp_j(row)).

Auxiliary (extension) columns: inv_j = 1/(α − fp_j) per interaction, constrained by inv_j·(α − fp_j) = 1,
and a running sum S with, on EVERY row (cyclically, the last row's successor is the first):

    S' − S − Σ_j sign_j · m_j(next) · inv_j(next) + C/n = 0.

Around the cycle the S steps telescope to zero, so the constraint alone forces Σ_rows terms = C: no
boundary constraint (which would have to stay below max_degree) is needed, and C is a value the proof
states and the transcript absorbs before the composition challenge. The prover sets
S_i = Σ_{r≤i} term_r − (i+1)·C/n (so S_{n−1} = 0). The verifier then checks Σ_chips C + (public tuples)
= 0: a tuple sent but not received leaves a pole at its fingerprint, so the sum is non-zero except with
probability ≈ (total rows)/|F_ext| over α (and over β for the tuple compression).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zkray.zkvm import ext as E
from zkray.zkvm import field as F
from zkray.zkvm.air import ConstraintBuilder, Val
from zkray.zkvm.errors import ProofError
from zkray.zkvm.multi.chip import Chip, Interaction, PublicTuple, Row, bus_id

ALPHA, BETA, CUMULATIVE_SUM = 0, 1, 2
"""Positions in `builder.challenges` of the chip-level values the LogUp constraints read."""


def fingerprint(it: Interaction, row: Row, beta: Val) -> Val:
    """tag(bus) + Σ_i β^i v_i (i from 1): one field element per tuple, injective w.h.p. over β."""
    acc = Val.const(bus_id(it.bus))
    power = beta
    for v in it.tuple_at(row):
        acc = acc + power * v
        power = power * beta
    return acc


def eval_chip(chip: Chip, b: ConstraintBuilder) -> None:
    """Every constraint of the chip: its AIR's, then its interactions' (the order every builder folds)."""
    chip.air.eval(b)
    if not chip.interactions:
        return
    alpha, beta, csum = b.challenges[ALPHA], b.challenges[BETA], b.challenges[CUMULATIVE_SUM]
    k = len(chip.interactions)
    for j, it in enumerate(chip.interactions):
        # inv_j is the inverse of α − fp_j (so no fingerprint equals α, and inv_j is what the sum adds)
        b.assert_zero(f"{it.bus} interaction {j}: inverse of α − fingerprint",
                      b.aux[j] * (alpha - fingerprint(it, b.main, beta)) - 1)
    step: Val = Val.const(0)
    for j, it in enumerate(chip.interactions):
        term = it.multiplicity_at(b.main_next) * b.aux_next[j]
        step = step + term if it.sign > 0 else step - term
    inv_n = pow(b.n, F.P - 2, F.P)
    # S' = S + terms(next) − C/n on every row, cyclically: forces Σ_rows terms = C
    b.assert_zero("interactions: running sum steps (cyclic, totals the cumulative sum)",
                  b.aux_next[k] - b.aux[k] - step + csum * inv_n)


def generate_aux(chip: Chip, main: np.ndarray, alpha: np.ndarray,
                 beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(aux (k+1, n, 4), cumulative sum (4,), per-bus share) for one chip's main trace (w, n)."""
    n = main.shape[1]
    row = [Val(c, False) for c in main]
    a, b = Val(alpha, True), Val(beta, True)
    k = len(chip.interactions)
    aux = np.empty((k + 1, n, 4), dtype=np.uint32)
    terms = np.zeros((n, 4), dtype=np.uint64)
    by_bus: dict[str, np.ndarray] = {}
    for j, it in enumerate(chip.interactions):
        denom = np.ascontiguousarray(np.broadcast_to((a - fingerprint(it, row, b)).to_ext(), (n, 4)))
        zero = ~denom.any(axis=1)
        if zero.any():
            raise ProofError(f"{chip.name}: a tuple's fingerprint equals α at row {int(np.argmax(zero))} "
                             "(probability ~n/|F_ext|)")
        aux[j] = E.batch_inv(denom)
        mult = np.broadcast_to(np.asarray(it.multiplicity_at(row).v, dtype=np.uint32), (n,))
        term = E.mul_base(aux[j], mult)
        if it.sign < 0:
            term = F.neg(term)
        share = (term.sum(axis=0, dtype=np.uint64) % F.P).astype(np.uint32)
        by_bus[it.bus] = F.add(by_bus.get(it.bus, np.zeros(4, dtype=np.uint32)), share)
        terms += term
    terms %= F.P
    total = (terms.sum(axis=0) % F.P).astype(np.uint32)  # n·2^31 < 2^63
    prefix = (np.cumsum(terms, axis=0) % F.P).astype(np.uint32)
    c_over_n = F.mul(total, np.uint32(pow(n, F.P - 2, F.P)))
    ramp = E.mul_base(np.broadcast_to(c_over_n, (n, 4)), np.arange(1, n + 1, dtype=np.uint32))
    aux[k] = F.sub(prefix, ramp)
    return aux, total, by_bus


def public_sum(tuples: Sequence[PublicTuple], alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The public tuples' share Σ m/(α − fp), computed by the verifier (and the prover) itself."""
    total = np.zeros(4, dtype=np.uint32)
    a, b = Val(alpha, True), Val(beta, True)
    for t in tuples:
        it = Interaction(t.bus, lambda _row, v=t.values: v, lambda _row: 0, 1)
        denom = (a - fingerprint(it, [], b)).to_ext()  # zero only with probability ~1/|F_ext|
        total = F.add(total, E.mul_base(E.inv(denom), np.uint32(t.multiplicity % F.P)))
    return total
