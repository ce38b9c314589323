"""The multiply chip: MUL, MULH, MULHSU, MULHU, one row per multiplication the CPU executes.

The CPU sends ("mul", op, a bytes, b bytes, result bytes) (op 0..3 = MUL, MULH, MULHSU, MULHU); this chip
receives each once per real row. It computes the 64-bit product of a and b sign- or zero-extended to 8
bytes (byte 4..7 = 255·e, e = the operand's sign bit when the op treats it as signed): the product's
bytes satisfy prod_j + 256·carry_j = Σ_{i≤j} a_i·b_{j−i} + carry_{j−1} for j = 0..7, with prod bytes and
carries (below 2^16, two bytes) range-checked. Every term stays far below p, so these are integer
equations and prod is the product mod 2^64; MUL returns its low word, the others its high word.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkray.zkvm.air import Air, ConstraintBuilder, Val
from zkray.zkvm.multi import Chip, Interaction
from zkray.zkvm.rv32im_air.layout import Layout
from zkray.zkvm.rv32im_air.tables import BYTES_BUS, NOMINAL_LOG_N

MUL_BUS = "mul"
MUL_OPS = ("mul", "mulh", "mulhsu", "mulhu")

L = Layout()
REAL = L.col("real")
FLAG = {op: L.col(f"is_{op}") for op in MUL_OPS}
A, B = L.cols("a", 4), L.cols("b", 4)
MSB_A, MSB_B, EXT_A, EXT_B = L.col("msb_a"), L.col("msb_b"), L.col("ext_a"), L.col("ext_b")
PROD, CARRY_LO, CARRY_HI = L.cols("prod", 8), L.cols("carry_lo", 8), L.cols("carry_hi", 8)
WIDTH = L.width


def _ext(r: Sequence[Val], cols: Sequence[int], ext: int, i: int) -> Val:
    return r[cols[i]] if i < 4 else 255 * r[ext]


def result(r: Sequence[Val], k: int) -> Val:
    """Result byte k: the product's low word for MUL, its high word otherwise."""
    f = r[FLAG["mul"]]
    return f * r[PROD[k]] + (1 - f) * r[PROD[k + 4]]


def op_index(r: Sequence[Val]) -> Val:
    return r[FLAG["mulh"]] + 2 * r[FLAG["mulhsu"]] + 3 * r[FLAG["mulhu"]]


class MulAir(Air):
    """See the module docstring; padding rows hold zeros."""

    name = "rv32im-mul"
    main_width = WIDTH
    max_degree = 2

    def log_trace_length(self, public: Sequence[int]) -> int:
        return NOMINAL_LOG_N

    def eval(self, b: ConstraintBuilder) -> None:
        r = b.main
        for c in (REAL, *FLAG.values(), MSB_A, MSB_B):
            b.assert_zero(f"{L.names[c]} is boolean", r[c] * (r[c] - 1))
        ops = r[FLAG["mul"]] + r[FLAG["mulh"]] + r[FLAG["mulhsu"]] + r[FLAG["mulhu"]]
        b.assert_zero("a real row is exactly one op", ops - r[REAL])
        b.assert_zero("ext_a = a's sign bit when a is signed (MULH, MULHSU)",
                      r[EXT_A] - (r[FLAG["mulh"]] + r[FLAG["mulhsu"]]) * r[MSB_A])
        b.assert_zero("ext_b = b's sign bit when b is signed (MULH)", r[EXT_B] - r[FLAG["mulh"]] * r[MSB_B])
        carry_in: Val | int = 0
        for j in range(8):
            conv: Val | int = 0
            for i in range(j + 1):
                conv = conv + _ext(r, A, EXT_A, i) * _ext(r, B, EXT_B, j - i)
            carry = r[CARRY_LO[j]] + 256 * r[CARRY_HI[j]]
            b.assert_zero(f"product byte {j}: prod + 256·carry = Σ a_i·b_(j−i) + carry in",
                          r[PROD[j]] + 256 * carry - conv - carry_in)
            carry_in = carry


def _pair(x: object, y: object) -> Interaction:
    return Interaction.send(BYTES_BUS, lambda r: [x(r), y(r)], lambda r: r[REAL])  # type: ignore[operator]


MUL = Chip(MulAir(), (
    Interaction.receive(MUL_BUS, lambda r: [op_index(r), *(r[c] for c in A), *(r[c] for c in B),
                                            *(result(r, k) for k in range(4))], lambda r: r[REAL]),
    *(_pair(lambda r, j=j: r[PROD[2 * j]], lambda r, j=j: r[PROD[2 * j + 1]]) for j in range(4)),
    *(_pair(lambda r, j=j: r[CARRY_LO[j]], lambda r, j=j: r[CARRY_HI[j]]) for j in range(8)),
    # the sign bits: a3 − 128·msb and b3 − 128·msb are below 128
    _pair(lambda r: 2 * (r[A[3]] - 128 * r[MSB_A]), lambda r: 2 * (r[B[3]] - 128 * r[MSB_B])),
))


def fill_row(row: object, op: str, a: int, b: int) -> int:
    """Set one real row (row: a writable int array) and return the 32-bit result."""
    ea = (a >> 31) if op in ("mulh", "mulhsu") else 0
    eb = (b >> 31) if op == "mulh" else 0
    ax = [(a >> 8 * i) & 0xFF for i in range(4)] + [255 * ea] * 4
    bx = [(b >> 8 * i) & 0xFF for i in range(4)] + [255 * eb] * 4
    values = {REAL: 1, FLAG[op]: 1, MSB_A: a >> 31, MSB_B: b >> 31, EXT_A: ea, EXT_B: eb}
    carry = 0
    prod = []
    for j in range(8):
        total = sum(ax[i] * bx[j - i] for i in range(j + 1)) + carry
        prod.append(total & 0xFF)
        carry = total >> 8
        values[CARRY_LO[j]], values[CARRY_HI[j]] = carry & 0xFF, carry >> 8
    for i in range(4):
        values[A[i]], values[B[i]] = ax[i], bx[i]
    for j in range(8):
        values[PROD[j]] = prod[j]
    for col, v in values.items():
        row[col] = v  # type: ignore[index]
    word = prod[:4] if op == "mul" else prod[4:]
    return sum(v << 8 * i for i, v in enumerate(word))
