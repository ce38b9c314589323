"""LogUp lookups: the second-phase argument that range checks (and later memory) are built from.

To show every looked-up value v_i (one per row, per looked-up column) lies in a table column t with
multiplicities μ, LogUp checks, for a random α drawn after the main trace is committed,

    Σ_rows Σ_cols 1/(α − v) = Σ_rows μ/(α − t)

The auxiliary (extension-field) columns hold each inverse 1/(α − x) — constrained by inv·(α − x) = 1, so
every constraint stays degree 2 — and a running sum S with S' = S + (next row's terms) on EVERY row,
wrapping from the last row to the first. Summed around the cycle the steps telescope to zero, so the
constraint alone forces Σ terms = 0: no boundary constraint (which would have to be degree 1 to keep
the quotient small) is needed. A value outside the table makes the identity fail except with
probability ≈ n/|F_ext|.
The table column is itself constrained by the AIR that uses this gadget (e.g. 0, then +0 or +1 per row,
ending at 255), which is why the trace needs at least as many rows as the table has entries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zkray.zkvm import ext as E
from zkray.zkvm import field as F
from zkray.zkvm.air import ConstraintBuilder, Val


def aux_width(num_looked_up: int) -> int:
    """Extension columns used: one inverse per looked-up column, one for the table, the running sum."""
    return num_looked_up + 2


def generate(looked_up: np.ndarray, table: np.ndarray, multiplicity: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Aux columns (k + 2, n, 4): inverses of the k looked-up columns, μ-free table inverse, running sum."""
    k, n = looked_up.shape
    cols = np.empty((k + 2, n, 4), dtype=np.uint32)
    for c in range(k + 1):
        x = looked_up[c] if c < k else table
        diff = F.sub(np.broadcast_to(alpha, (n, 4)), E.from_base(x))
        cols[c] = E.batch_inv(np.ascontiguousarray(diff))
    terms = cols[0].astype(np.uint64)
    for c in range(1, k):
        terms = terms + cols[c]
    table_terms = E.mul_base(cols[k], multiplicity).astype(np.uint64)
    row_terms = (terms % F.P + F.P - table_terms) % F.P
    cols[k + 1] = (np.cumsum(row_terms, axis=0) % F.P).astype(np.uint32)  # sums < 2^31·n fit in u64
    return cols


def constrain(b: ConstraintBuilder, looked_up: Sequence[int], table: int, multiplicity: int, aux0: int = 0,
              challenge: int = 0) -> None:
    """Declare the LogUp constraints; main columns by index, aux columns from `aux0`."""
    alpha = b.challenges[challenge]
    k = len(looked_up)
    inv = b.aux[aux0 : aux0 + k + 1]
    inv_next = b.aux_next[aux0 : aux0 + k + 1]
    s, s_next = b.aux[aux0 + k + 1], b.aux_next[aux0 + k + 1]
    for i, col in enumerate(looked_up):
        b.assert_zero(f"logup inverse of column {col}", inv[i] * (alpha - b.main[col]) - 1)
    b.assert_zero("logup inverse of the table", inv[k] * (alpha - b.main[table]) - 1)

    def row_sum(inverses: Sequence[Val], mult: Val) -> Val:
        total: Val = inverses[0]
        for v in inverses[1:k]:
            total = total + v
        return total - inverses[k] * mult

    b.assert_zero("logup running sum steps (cyclic)", s_next - s - row_sum(inv_next, b.main_next[multiplicity]))
