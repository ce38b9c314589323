"""The LogUp argument behind interactions, per chip: auxiliary columns, constraints, cumulative sum.

With α, β_1..β_A drawn after every main trace is committed (A = the longest tuple on any bus), a tuple
(v_1..v_a) on bus b has the fingerprint fp = tag(b) + Σ_i β_i·v_i — linear in the β's, which is what
keeps the argument's error at ~2N/|F_ext| for N tuples (docs/multi-stark.md) — and a chip's share of the
global sum is

    C = Σ_rows Σ_j sign_j · m_j(row) / (α − fp_j(row)).

Auxiliary (extension) columns, batched as Plonky3 and SP1 do: the chip's interactions are grouped
(`Chip.batches`, never above the chip's degree) and each batch B has ONE column h_B, constrained on every
row with its denominators cleared:

    h_B · Π_(i∈B) (α − fp_i) = Σ_(i∈B) sign_i · m_i · Π_(k∈B, k≠i) (α − fp_k),

so h_B = Σ_(i∈B) sign_i·m_i/(α − fp_i) whenever no α − fp_i vanishes. A running sum S is constrained on
EVERY row (cyclically, the last row's successor is the first):

    S' − S − Σ_B h_B' + C/n = 0.

Around the cycle the S steps telescope to zero, so the constraint alone forces Σ_rows Σ_B h_B = C: no
boundary constraint (which would have to stay below max_degree) is needed, and C is a value the proof
states and the transcript absorbs before the composition challenge. The prover sets
S_i = Σ_{r≤i} term_r − (i+1)·C/n (so S_{n−1} = 0). The verifier then checks Σ_chips C + (public tuples)
= 0: a tuple sent but not received leaves a pole at its fingerprint, so the sum is non-zero except with
the probability docs/multi-stark.md bounds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zkray.zkvm import ext as E
from zkray.zkvm import field as F
from zkray.zkvm.air import ConstraintBuilder, Val
from zkray.zkvm.errors import ProofError
from zkray.zkvm.multi.chip import Chip, Interaction, PublicTuple, Row, bus_id

ALPHA, CUMULATIVE_SUM, BETAS = 0, 1, 2
"""Positions in `builder.challenges`: α, the chip's cumulative sum C, then β_1..β_A."""


def fingerprint(it: Interaction, row: Row, betas: Sequence[Val]) -> Val:
    """tag(bus) + Σ_i β_i·v_i: one field element per tuple, injective w.h.p. over the independent β's."""
    vals = it.tuple_at(row)
    if len(vals) > len(betas):
        raise ValueError(f"bus {it.bus!r}: a tuple of {len(vals)} values needs as many β challenges, "
                         f"{len(betas)} were drawn")
    columns = [k for k, v in enumerate(vals) if not v.is_ext and np.ndim(v.v) == 1]
    if columns and all(betas[k].is_ext and np.shape(betas[k].v) == (4,) for k in columns):
        # Over a trace or an LDE: one compiled pass combines every array-valued entry (F.lincomb_into).
        rows = np.stack([np.asarray(vals[k].v, dtype=np.uint32) for k in columns])
        acc_v = np.zeros((rows.shape[1], 4), dtype=np.uint32)
        F.lincomb_into(rows, np.stack([np.asarray(betas[k].v, dtype=np.uint32) for k in columns]), acc_v)
        acc = Val(acc_v, True) + bus_id(it.bus)
    else:
        columns, acc = [], Val.const(bus_id(it.bus))
    for k, (beta, v) in enumerate(zip(betas, vals, strict=False)):
        if k not in columns:
            acc = acc + beta * v
    return acc


def _signed(it: Interaction, row: Row) -> Val:
    m = it.multiplicity_at(row)
    return m if it.sign > 0 else -m


def eval_chip(chip: Chip, b: ConstraintBuilder) -> None:
    """Every constraint of the chip: its AIR's, then its interactions' (the order every builder folds)."""
    chip.air.eval(b)
    if not chip.interactions:
        return
    alpha, csum, betas = b.challenges[ALPHA], b.challenges[CUMULATIVE_SUM], b.challenges[BETAS:]
    for j, batch in enumerate(chip.batches):
        its = [chip.interactions[i] for i in batch]
        dens = [alpha - fingerprint(it, b.main, betas) for it in its]
        prod = dens[0]
        for d in dens[1:]:
            prod = prod * d
        numer: Val = Val.const(0)
        for i, it in enumerate(its):
            term = _signed(it, b.main)
            for k, d in enumerate(dens):
                if k != i:
                    term = term * d
            numer = numer + term
        buses = ", ".join(sorted({it.bus for it in its}))
        # h_B·Π(α − fp_i) = Σ ±m_i·Π_(k≠i)(α − fp_k): h_B is the batch's sum of ±m/(α − fp) (its inverses)
        b.assert_zero(f"{buses} batch {j} (interactions {list(batch)}): h = Σ ±m/(α − fingerprint), inverses "
                      "cleared", b.aux[j] * prod - numer)
    k = len(chip.batches)
    step: Val = Val.const(0)
    for j in range(k):
        step = step + b.aux_next[j]
    inv_n = pow(b.n, F.P - 2, F.P)
    # S' = S + Σ_B h_B(next) − C/n on every row, cyclically: forces Σ_rows terms = C
    b.assert_zero("interactions: running sum steps (cyclic, totals the cumulative sum)",
                  b.aux_next[k] - b.aux[k] - step + csum * inv_n)


def generate_aux(chip: Chip, main: np.ndarray, alpha: np.ndarray,
                 betas: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(aux (batches + 1, n, 4), cumulative sum (4,), per-bus share) for one chip's main trace (w, n)."""
    n = main.shape[1]
    row = [Val(c, False) for c in main]
    a = Val(alpha, True)
    bs = [Val(np.asarray(x, dtype=np.uint32), True) for x in betas]
    k = len(chip.batches)
    aux = np.zeros((k + 1, n, 4), dtype=np.uint32)
    terms = np.zeros((n, 4), dtype=np.uint64)
    by_bus: dict[str, np.ndarray] = {}
    for j, batch in enumerate(chip.batches):
        for i in batch:
            it = chip.interactions[i]
            denom = np.ascontiguousarray(np.broadcast_to((a - fingerprint(it, row, bs)).to_ext(), (n, 4)))
            zero = ~denom.any(axis=1)
            if zero.any():
                raise ProofError(f"{chip.name}: a tuple's fingerprint equals α at row {int(np.argmax(zero))} "
                                 "(probability ~n/|F_ext|)")
            mult = np.broadcast_to(np.asarray(it.multiplicity_at(row).v, dtype=np.uint32), (n,))
            term = E.mul_base(E.batch_inv(denom), mult)
            if it.sign < 0:
                term = F.neg(term)
            share = (term.sum(axis=0, dtype=np.uint64) % F.P).astype(np.uint32)
            by_bus[it.bus] = F.add(by_bus.get(it.bus, np.zeros(4, dtype=np.uint32)), share)
            aux[j] = F.add(aux[j], term)
        terms += aux[j]
    terms %= F.P
    total = (terms.sum(axis=0) % F.P).astype(np.uint32)  # n·2^31 < 2^63
    prefix = (np.cumsum(terms, axis=0) % F.P).astype(np.uint32)
    c_over_n = F.mul(total, np.uint32(pow(n, F.P - 2, F.P)))
    ramp = E.mul_base(np.broadcast_to(c_over_n, (n, 4)), np.arange(1, n + 1, dtype=np.uint32))
    aux[k] = F.sub(prefix, ramp)
    return aux, total, by_bus


def public_sum(tuples: Sequence[PublicTuple], alpha: np.ndarray, betas: Sequence[np.ndarray]) -> np.ndarray:
    """The public tuples' share Σ m/(α − fp), computed by the verifier (and the prover) itself."""
    total = np.zeros(4, dtype=np.uint32)
    a = Val(alpha, True)
    bs = [Val(np.asarray(x, dtype=np.uint32), True) for x in betas]
    for t in tuples:
        it = Interaction(t.bus, lambda _row, v=t.values: v, lambda _row: 0, 1)
        denom = (a - fingerprint(it, [], bs)).to_ext()  # zero only with probability ~1/|F_ext|
        total = F.add(total, E.mul_base(E.inv(denom), np.uint32(t.multiplicity % F.P)))
    return total
