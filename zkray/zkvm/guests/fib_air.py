"""Fibonacci over u32 with wrapping addition, as an AIR: the built-in `fib` and `fib_input_initial` guests.

Row i holds the pair (t_i, t_(i+1)) of the sequence t_0 = a, t_1 = b, t_(k+1) = t_k + t_(k-1) mod 2^32.
A u32 does not fit in BabyBear, so values are 16-bit limbs; b is kept as 32 bits (which range-checks
it), a as two limbs (range-checked because it equals the previous row's b, or the public start value).

Columns (36, counted from the layout below):
    a_lo, a_hi          t_i in 16-bit limbs
    b_bits[32]          t_(i+1), little-endian bits
    k0, k1              carries of the limb additions that produce t_(i+2)
Constraints (degree 2):
    every bit and both carries are boolean                                     (all rows)
    a' = b, limb by limb                                                       (transition)
    b'_lo = a_lo + b_lo − 2^16·k0;  b'_hi = a_hi + b_hi + k0 − 2^16·k1        (transition)
    row 0 holds (a, b); row n holds t_n = the output                          (boundary)
All magnitudes stay below 2^18 ≪ p, so these field equations are the integer equations, and together
with the range checks they force b' = a + b mod 2^32 exactly.
Public inputs: (n, a_lo, a_hi, b_lo, b_hi, out_lo, out_hi).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from zkray.zkvm.air import Air, ConstraintBuilder, Val

A_LO, A_HI = 0, 1
B_BITS = 2
K0, K1 = B_BITS + 32, B_BITS + 33
WIDTH = K1 + 1
MIN_LOG_ROWS = 4
MAX_N = (1 << 24) - 1


def _limbs(bits: Sequence[Val]) -> Val:
    acc: Val | int = 0
    for j, bit in enumerate(bits):
        acc = bit * (1 << j) + acc if j else bit
    return acc  # type: ignore[return-value]


class FibAir(Air):
    """One AIR for both guests; the name (and so the image id) differs."""

    max_degree = 2
    main_width = WIDTH

    def __init__(self, name: str, version: int = 1) -> None:
        self.name = name
        self.version = version

    def log_trace_length(self, public: Sequence[int]) -> int:
        n = int(public[0])
        return max(MIN_LOG_ROWS, n.bit_length())  # 2^bit_length(n) > n: row n exists

    def sample_public(self) -> tuple[int, ...]:
        return (3, 1, 0, 1, 0, 3, 0)

    def eval(self, b: ConstraintBuilder) -> None:
        m, nx = b.main, b.main_next
        n_out, a_lo0, a_hi0, b_lo0, b_hi0, out_lo, out_hi = (int(v) for v in b.public)
        bits, nbits = m[B_BITS : B_BITS + 32], nx[B_BITS : B_BITS + 32]
        for j, bit in enumerate(bits):
            b.assert_zero(f"b_bit{j} boolean", bit * (bit - 1))
        b.assert_zero("k0 boolean", m[K0] * (m[K0] - 1))
        b.assert_zero("k1 boolean", m[K1] * (m[K1] - 1))
        b_lo, b_hi = _limbs(bits[:16]), _limbs(bits[16:])
        nb_lo, nb_hi = _limbs(nbits[:16]), _limbs(nbits[16:])
        b.assert_transition("a' = b (low limb)", nx[A_LO] - b_lo)
        b.assert_transition("a' = b (high limb)", nx[A_HI] - b_hi)
        b.assert_transition("b' = a + b (low limb)", nb_lo - (m[A_LO] + b_lo - m[K0] * (1 << 16)))
        b.assert_transition("b' = a + b (high limb)", nb_hi - (m[A_HI] + b_hi + m[K0] - m[K1] * (1 << 16)))
        b.assert_row("a = start a (low)", m[A_LO] - a_lo0, 0)
        b.assert_row("a = start a (high)", m[A_HI] - a_hi0, 0)
        b.assert_row("b = start b (low)", b_lo - b_lo0, 0)
        b.assert_row("b = start b (high)", b_hi - b_hi0, 0)
        b.assert_row("t_n = output (low)", m[A_LO] - out_lo, n_out)
        b.assert_row("t_n = output (high)", m[A_HI] - out_hi, n_out)


@numba.njit(cache=True)
def _sequence(a: int, b: int, count: int) -> np.ndarray:
    t = np.empty(count, dtype=np.uint32)
    t[0] = a
    if count > 1:
        t[1] = b
    for i in range(2, count):
        t[i] = np.uint32((np.uint64(t[i - 1]) + np.uint64(t[i - 2])) & np.uint64(0xFFFFFFFF))
    return t


def term(n: int, a: int, b: int) -> int:
    """t_n by the compiled recurrence (what the guest outputs)."""
    return int(_sequence(a, b, n + 1)[n])


def fib_term(n: int, a: int, b: int) -> int:
    """t_n in plain Python: the slow, obviously correct reference the tests compare with."""
    x, y = a, b
    for _ in range(n):
        x, y = y, (x + y) & 0xFFFFFFFF
    return x


def generate_trace(n: int, a: int, b: int, log_rows: int) -> np.ndarray:
    """The (36, 2^log_rows) trace; rows beyond n keep following the recurrence."""
    rows = 1 << log_rows
    t = _sequence(a, b, rows + 2).astype(np.uint64)
    cur_a, cur_b = t[:rows], t[1 : rows + 1]
    trace = np.empty((WIDTH, rows), dtype=np.uint32)
    trace[A_LO] = cur_a & 0xFFFF
    trace[A_HI] = cur_a >> 16
    for j in range(32):
        trace[B_BITS + j] = (cur_b >> np.uint64(j)) & np.uint64(1)
    k0 = ((cur_a & 0xFFFF) + (cur_b & 0xFFFF)) >> 16
    k1 = ((cur_a >> 16) + (cur_b >> 16) + k0) >> 16
    trace[K0], trace[K1] = k0, k1
    return trace
