"""The divide chip: DIV, DIVU, REM, REMU, one row per division the CPU executes.

The CPU sends ("div", op, a bytes, b bytes, result bytes) (op 0..3 = DIV, DIVU, REM, REMU); this chip
receives each once per real row with quotient q and remainder r as range-checked bytes, and proves them
the ones the M extension defines:

- a = q·b + r as 8-byte (sign- or zero-extended) integers: a byte convolution with range-checked carries,
  so the equation holds mod 2^64, hence over the integers (|q·b + r| < 2^63). Skipped only on signed
  overflow (INT_MIN / −1), where q = a and r = 0 are forced instead.
- b = 0 (found with an inverse of b's byte sum) forces q = all ones; the equation then gives r = a.
- otherwise |r| < |b|: both negated by a byte adder when negative (signed ops only), then
  |b| − |r| − 1 is subtracted byte-wise and must not borrow out;
- signed: r = 0 or r has a's sign (the spec rounds toward zero).
Those conditions leave exactly one (q, r) for every a, b.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkray.zkvm import field as F
from zkray.zkvm.air import Air, ConstraintBuilder, Val
from zkray.zkvm.multi import Chip, Interaction
from zkray.zkvm.rv32im_air.layout import Layout
from zkray.zkvm.rv32im_air.tables import BYTES_BUS, NOMINAL_LOG_N

DIV_BUS = "div"
DIV_OPS = ("div", "divu", "rem", "remu")
MASK = 0xFFFF_FFFF

L = Layout()
REAL = L.col("real")
FLAG = {op: L.col(f"is_{op}") for op in DIV_OPS}
A, B, Q, R = L.cols("a", 4), L.cols("b", 4), L.cols("q", 4), L.cols("r", 4)
MSB = {x: L.col(f"msb_{x}") for x in "abqr"}
EXT = {x: L.col(f"ext_{x}") for x in "abqr"}  # sign-extension bit: msb for signed ops, else 0
B_ZERO, B_INV, OVF, OVF_INV, OVERFLOW, R_ZERO, R_INV = (L.col(n) for n in (
    "b_zero", "b_inv", "ovf_cand", "ovf_inv", "overflow", "r_zero", "r_inv"))
CARRY_LO, CARRY_HI = L.cols("carry_lo", 8), L.cols("carry_hi", 8)
ABS_B, ABS_B_CARRY = L.cols("abs_b", 4), L.cols("abs_b_carry", 4)
ABS_R, ABS_R_CARRY = L.cols("abs_r", 4), L.cols("abs_r_carry", 4)
GAP, GAP_BORROW = L.cols("gap", 4), L.cols("gap_borrow", 4)  # |b| − |r| − 1
WIDTH = L.width
BOOLEANS = (REAL, *FLAG.values(), *MSB.values(), B_ZERO, OVF, R_ZERO, *ABS_B_CARRY, *ABS_R_CARRY, *GAP_BORROW)


def signed(r: Sequence[Val]) -> Val:
    return r[FLAG["div"]] + r[FLAG["rem"]]


def result(r: Sequence[Val], k: int) -> Val:
    """Result byte k: the quotient for DIV/DIVU, the remainder for REM/REMU."""
    f = r[FLAG["div"]] + r[FLAG["divu"]]
    return f * r[Q[k]] + (1 - f) * r[R[k]]


def op_index(r: Sequence[Val]) -> Val:
    return r[FLAG["divu"]] + 2 * r[FLAG["rem"]] + 3 * r[FLAG["remu"]]


def _ext(r: Sequence[Val], x: str, cols: Sequence[int], i: int) -> Val:
    return r[cols[i]] if i < 4 else 255 * r[EXT[x]]


def _abs(b: ConstraintBuilder, r: Sequence[Val], x: str, value: Sequence[int], out: Sequence[int],
         carries: Sequence[int]) -> None:
    """out = value when its ext bit is 0, else 2^32 − value (mod 2^32): value + out ≡ 0 with a carry chain."""
    s = r[EXT[x]]
    carry_in: Val | int = 0
    for k in range(4):
        b.assert_zero(f"|{x}| byte {k}: a copy, or the negation's byte (value + |{x}| + carry in = 256·carry)",
                      s * (r[value[k]] + r[out[k]] + carry_in - 256 * r[carries[k]])
                      + (1 - s) * (r[out[k]] - r[value[k]]))
        carry_in = r[carries[k]]


class DivAir(Air):
    """See the module docstring; padding rows hold zeros (b = 0 there, so b_zero = 1 and q = all ones)."""

    name = "rv32im-div"
    main_width = WIDTH
    max_degree = 3

    def log_trace_length(self, public: Sequence[int]) -> int:
        return NOMINAL_LOG_N

    def eval(self, b: ConstraintBuilder) -> None:
        r = b.main
        for c in BOOLEANS:
            b.assert_zero(f"{L.names[c]} is boolean", r[c] * (r[c] - 1))
        ops = r[FLAG["div"]] + r[FLAG["divu"]] + r[FLAG["rem"]] + r[FLAG["remu"]]
        b.assert_zero("a real row is exactly one op", ops - r[REAL])
        sgn = signed(r)
        for x in "abqr":
            b.assert_zero(f"ext_{x} = {x}'s sign bit for signed ops", r[EXT[x]] - sgn * r[MSB[x]])
        bsum = r[B[0]] + r[B[1]] + r[B[2]] + r[B[3]]  # bytes: zero iff b = 0
        b.assert_zero("b_zero = 1 forces b = 0", r[B_ZERO] * bsum)
        b.assert_zero("b_zero = 0 forces b ≠ 0", bsum * r[B_INV] - (1 - r[B_ZERO]))
        # a = INT_MIN and b = −1 exactly when this sum of non-negative terms is 0
        cand = (1 - r[MSB["a"]]) + (r[A[3]] - 128 * r[MSB["a"]]) + r[A[0]] + r[A[1]] + r[A[2]] + sum(
            (255 - r[B[k]] for k in range(1, 4)), 255 - r[B[0]])
        b.assert_zero("ovf_cand = 1 forces a = INT_MIN and b = −1", r[OVF] * cand)
        b.assert_zero("ovf_cand = 0 forces the opposite", cand * r[OVF_INV] - (1 - r[OVF]))
        b.assert_zero("overflow = signed op on INT_MIN / −1", r[OVERFLOW] - sgn * r[OVF])
        ovf = r[OVERFLOW]
        for k in range(4):
            b.assert_zero(f"b = 0: quotient byte {k} is 255", r[B_ZERO] * (r[Q[k]] - 255))
            b.assert_zero(f"overflow: quotient byte {k} = a's", ovf * (r[Q[k]] - r[A[k]]))
            b.assert_zero(f"overflow: remainder byte {k} = 0", ovf * r[R[k]])
        carry_in: Val | int = 0
        for j in range(8):
            conv: Val | int = _ext(r, "r", R, j)
            for i in range(j + 1):
                conv = conv + _ext(r, "q", Q, i) * _ext(r, "b", B, j - i)
            carry = r[CARRY_LO[j]] + 256 * r[CARRY_HI[j]]
            b.assert_zero(f"byte {j} of a = q·b + r (8-byte, unless overflow)",
                          (1 - ovf) * (_ext(r, "a", A, j) + 256 * carry - conv - carry_in))
            carry_in = carry
        _abs(b, r, "b", B, ABS_B, ABS_B_CARRY)
        _abs(b, r, "r", R, ABS_R, ABS_R_CARRY)
        borrow_in: Val | int = 1  # subtracts the extra 1 of |b| − |r| − 1
        for k in range(4):
            b.assert_zero(f"gap byte {k}: |b| − |r| − 1 byte-wise",
                          r[GAP[k]] - 256 * r[GAP_BORROW[k]] - r[ABS_B[k]] + r[ABS_R[k]] + borrow_in)
            borrow_in = r[GAP_BORROW[k]]
        b.assert_zero("b ≠ 0 and no overflow: |r| < |b| (the gap does not borrow out)",
                      (1 - r[B_ZERO]) * (1 - ovf) * r[GAP_BORROW[3]])
        rsum = r[R[0]] + r[R[1]] + r[R[2]] + r[R[3]]
        b.assert_zero("r_zero = 1 forces r = 0", r[R_ZERO] * rsum)
        b.assert_zero("r_zero = 0 forces r ≠ 0", rsum * r[R_INV] - (1 - r[R_ZERO]))
        b.assert_zero("signed: a non-zero remainder has a's sign",
                      sgn * (1 - r[R_ZERO]) * (r[MSB["r"]] - r[MSB["a"]]))


def _pair(x: object, y: object) -> Interaction:
    return Interaction.send(BYTES_BUS, lambda r: [x(r), y(r)], lambda r: r[REAL])  # type: ignore[operator]


def _cols(cols: Sequence[int]) -> tuple[Interaction, ...]:
    return tuple(_pair(lambda r, c=cols[2 * j]: r[c], lambda r, c=cols[2 * j + 1]: r[c]) for j in range(2))


DIV = Chip(DivAir(), (
    Interaction.receive(DIV_BUS, lambda r: [op_index(r), *(r[c] for c in A), *(r[c] for c in B),
                                            *(result(r, k) for k in range(4))], lambda r: r[REAL]),
    *_cols(Q), *_cols(R), *_cols(ABS_B), *_cols(ABS_R), *_cols(GAP),
    *(_pair(lambda r, j=j: r[CARRY_LO[j]], lambda r, j=j: r[CARRY_HI[j]]) for j in range(8)),
    # sign bits: the top byte − 128·msb is below 128
    _pair(lambda r: 2 * (r[A[3]] - 128 * r[MSB["a"]]), lambda r: 2 * (r[B[3]] - 128 * r[MSB["b"]])),
    _pair(lambda r: 2 * (r[Q[3]] - 128 * r[MSB["q"]]), lambda r: 2 * (r[R[3]] - 128 * r[MSB["r"]])),
))


def _sx(v: int) -> int:
    return v - (1 << 32) if v >> 31 else v


def divide(op: str, a: int, b: int) -> tuple[int, int]:
    """(q, r) as the M extension defines them (unsigned 32-bit views)."""
    if op in ("divu", "remu"):
        return (a // b, a % b) if b else (MASK, a)
    sa, sb = _sx(a), _sx(b)
    if sb == 0:
        return MASK, a
    if sa == -(1 << 31) and sb == -1:
        return a, 0
    q = abs(sa) // abs(sb)
    q = -q if (sa < 0) != (sb < 0) else q
    return q & MASK, (sa - q * sb) & MASK


def fill_row(row: object, op: str | None, a: int, b: int) -> int:
    """Set one row (row: a writable int array; op None = padding) and return the 32-bit result."""
    sgn = op in ("div", "rem")
    q, rem = divide(op or "divu", a, b)
    vals = {"a": a, "b": b, "q": q, "r": rem}
    v: dict[int, int] = {REAL: int(op is not None)}
    if op is not None:
        v[FLAG[op]] = 1
    for x, val in vals.items():
        for k in range(4):
            v[{"a": A, "b": B, "q": Q, "r": R}[x][k]] = (val >> 8 * k) & 0xFF
        v[MSB[x]] = val >> 31
        v[EXT[x]] = int(sgn) * (val >> 31)
    bsum = sum((b >> 8 * k) & 0xFF for k in range(4))
    v[B_ZERO], v[B_INV] = int(bsum == 0), pow(bsum, F.P - 2, F.P) if bsum else 0
    cand = (1 - (a >> 31)) + ((a >> 24) & 0x7F) + sum(
        (a >> 8 * k) & 0xFF for k in range(3)) + sum(255 - ((b >> 8 * k) & 0xFF) for k in range(4))
    v[OVF], v[OVF_INV] = int(cand == 0), pow(cand, F.P - 2, F.P) if cand else 0
    v[OVERFLOW] = int(sgn and cand == 0)
    rsum = sum((rem >> 8 * k) & 0xFF for k in range(4))
    v[R_ZERO], v[R_INV] = int(rsum == 0), pow(rsum, F.P - 2, F.P) if rsum else 0
    ext = {x: (0xFF if v[EXT[x]] else 0) for x in "abqr"}
    aw = [(a >> 8 * k) & 0xFF for k in range(4)] + [ext["a"]] * 4
    qw = [(q >> 8 * k) & 0xFF for k in range(4)] + [ext["q"]] * 4
    bw = [(b >> 8 * k) & 0xFF for k in range(4)] + [ext["b"]] * 4
    rw = [(rem >> 8 * k) & 0xFF for k in range(4)] + [ext["r"]] * 4
    carry = 0
    for j in range(8):
        if v[OVERFLOW]:
            break
        total = sum(qw[i] * bw[j - i] for i in range(j + 1)) + rw[j] + carry
        assert total & 0xFF == aw[j], "a = q·b + r fails (a zkray bug)"
        carry = total >> 8
        v[CARRY_LO[j]], v[CARRY_HI[j]] = carry & 0xFF, carry >> 8
    for x, val, out, carries in (("b", b, ABS_B, ABS_B_CARRY), ("r", rem, ABS_R, ABS_R_CARRY)):
        neg = bool(v[EXT[x]])
        absval = (-val) & MASK if neg else val
        c = 0
        for k in range(4):
            v[out[k]] = (absval >> 8 * k) & 0xFF
            if neg:
                c = (((val >> 8 * k) & 0xFF) + v[out[k]] + c) >> 8
                v[carries[k]] = c
    ab, ar = [v[c] for c in ABS_B], [v[c] for c in ABS_R]
    borrow = 1
    for k in range(4):
        d = ab[k] - ar[k] - borrow
        borrow = int(d < 0)
        v[GAP[k]], v[GAP_BORROW[k]] = d & 0xFF, borrow
    for col, val in v.items():
        row[col] = val  # type: ignore[index]
    return q if op in ("div", "divu") else rem
