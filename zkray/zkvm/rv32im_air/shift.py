"""The shift chip: SLL, SRL, SRA (and their immediate forms), one row per shift the CPU executes.

The CPU sends ("shift", op, a bytes, s, result bytes) with op 0/1/2 = SLL/SRL/SRA and s the low byte of
the shift operand (rs2's or the immediate's); this chip receives each once per real row, so every CPU
shift result is one this chip proves. With sh = s mod 32 = bs + 8·K (bs < 8 bits, K < 4 whole bytes):

- each byte is multiplied by 2^bs (left) or 2^(8−bs) (right) and split into two bytes,
  a_k·mult = lo_k + 256·hi_k, which is unique with both range-checked: hi_k/lo_k are the bits that leave
  the byte and those that stay;
- c_k = lo_k + hi_{k−1} (left) or hi_k + lo_{k+1} (right, with the sign fill entering byte 3 for SRA)
  is the word shifted by bs;
- result_j = c_{j−K} (left, zeros shifted in) or c_{j+K} (right, zero or sign bytes shifted in), selected
  by the one-hot byte-shift flags m_K.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkray.zkvm.air import Air, ConstraintBuilder, Val
from zkray.zkvm.multi import Chip, Interaction
from zkray.zkvm.rv32im_air.layout import Layout
from zkray.zkvm.rv32im_air.tables import BYTES_BUS, NOMINAL_LOG_N

SHIFT_BUS = "shift"
SHIFT_OPS = ("sll", "srl", "sra")

L = Layout()
REAL = L.col("real")
FLAG = {op: L.col(f"is_{op}") for op in SHIFT_OPS}
A, S = L.cols("a", 4), L.col("s")
BITS, BYTE_SHIFT, TOP = L.cols("bs_bit", 3), L.cols("byte_shift", 4), L.col("top")
POW, POW_RIGHT, SIGN = L.col("pow"), L.col("pow_right"), L.col("sign")
FILL_BYTE, FILL = L.col("fill_byte"), L.col("fill")
LO, HI, C, RES = L.cols("lo", 4), L.cols("hi", 4), L.cols("c", 4), L.cols("result", 4)
WIDTH = L.width


class ShiftAir(Air):
    """See the module docstring; padding rows (real = 0) hold zeros and send nothing."""

    name = "rv32im-shift"
    main_width = WIDTH
    max_degree = 3

    def log_trace_length(self, public: Sequence[int]) -> int:
        return NOMINAL_LOG_N

    def eval(self, b: ConstraintBuilder) -> None:
        r = b.main
        real, left = r[REAL], r[FLAG["sll"]]
        bools = [REAL, *FLAG.values(), *BITS, *BYTE_SHIFT, SIGN]
        for c in bools:
            b.assert_zero(f"{L.names[c]} is boolean", r[c] * (r[c] - 1))
        b.assert_zero("a real row is exactly one shift op", r[FLAG["sll"]] + r[FLAG["srl"]] + r[FLAG["sra"]] - real)
        b.assert_zero("a real row shifts by exactly one whole-byte amount",
                      r[BYTE_SHIFT[0]] + r[BYTE_SHIFT[1]] + r[BYTE_SHIFT[2]] + r[BYTE_SHIFT[3]] - real)
        b.assert_zero("s = bs + 8·K + 32·top (the shift amount is s mod 32)",
                      r[S] - r[BITS[0]] - 2 * r[BITS[1]] - 4 * r[BITS[2]]
                      - 8 * (r[BYTE_SHIFT[1]] + 2 * r[BYTE_SHIFT[2]] + 3 * r[BYTE_SHIFT[3]]) - 32 * r[TOP])
        b.assert_zero("pow = 2^bs", r[POW] - (1 + r[BITS[0]]) * (1 + 3 * r[BITS[1]]) * (1 + 15 * r[BITS[2]]))
        b.assert_zero("pow_right = 2^(8 − bs)", r[POW_RIGHT] * r[POW] - 256)
        mult = left * r[POW] + (1 - left) * r[POW_RIGHT]
        for k in range(4):
            b.assert_zero(f"byte {k}: a·mult = lo + 256·hi", r[A[k]] * mult - r[LO[k]] - 256 * r[HI[k]])
        b.assert_zero("fill_byte = the sign for SRA, else 0", r[FILL_BYTE] - r[FLAG["sra"]] * r[SIGN])
        b.assert_zero("fill = the sign bits entering byte 3 (256 − 2^(8−bs) when filling)",
                      r[FILL] - r[FILL_BYTE] * (256 - r[POW_RIGHT]))
        for k in range(4):
            prev_hi = r[HI[k - 1]] if k else 0
            next_lo = r[LO[k + 1]] if k < 3 else r[FILL]
            b.assert_zero(f"c byte {k}: the word shifted by bs", r[C[k]] - left * (r[LO[k]] + prev_hi)
                          - (1 - left) * (r[HI[k]] + next_lo))
        for j in range(4):
            total: Val = Val.const(0)
            for k in range(4):
                from_left = r[C[j - k]] if j >= k else 0
                from_right = r[C[j + k]] if j + k < 4 else 255 * r[FILL_BYTE]
                total = total + r[BYTE_SHIFT[k]] * (left * from_left + (1 - left) * from_right)
            b.assert_zero(f"result byte {j}: c moved by K whole bytes", r[RES[j]] - total)


def op_index(r: Sequence[Val]) -> Val:
    return r[FLAG["srl"]] + 2 * r[FLAG["sra"]]


def _pair(x: object, y: object) -> Interaction:
    return Interaction.send(BYTES_BUS, lambda r: [x(r), y(r)], lambda r: r[REAL])  # type: ignore[operator]


SHIFT = Chip(ShiftAir(), (
    Interaction.receive(SHIFT_BUS, lambda r: [op_index(r), *(r[c] for c in A), r[S], *(r[c] for c in RES)],
                        lambda r: r[REAL]),
    *(_pair(lambda r, k=k: r[LO[k]], lambda r, k=k: r[HI[k]]) for k in range(4)),
    _pair(lambda r: r[TOP], lambda r: 32 * r[TOP]),  # top < 8, so s = bs + 8K + 32·top is the byte's split
    _pair(lambda r: 2 * (r[A[3]] - 128 * r[SIGN]), lambda r: 0),  # sign is a3's top bit
))


def fill_row(row: Sequence[int] | object, op: str, a: int, s: int) -> int:
    """Set one real row's columns (row: a writable int array) and return the 32-bit result."""
    sh = s & 31
    bs, k = sh & 7, sh >> 3
    sign = a >> 31
    left = op == "sll"
    pw, pr = 1 << bs, 1 << (8 - bs)
    mult = pw if left else pr
    ab = [(a >> 8 * i) & 0xFF for i in range(4)]
    lo = [(x * mult) & 0xFF for x in ab]
    hi = [(x * mult) >> 8 for x in ab]
    fill_byte = int(op == "sra" and sign)
    fill = fill_byte * (256 - pr)
    c = [lo[i] + (hi[i - 1] if i else 0) if left else hi[i] + (lo[i + 1] if i < 3 else fill) for i in range(4)]
    res = []
    for j in range(4):
        if left:
            res.append(c[j - k] if j >= k else 0)
        else:
            res.append(c[j + k] if j + k < 4 else 255 * fill_byte)
    values = {REAL: 1, FLAG[op]: 1, S: s, TOP: s >> 5, POW: pw, POW_RIGHT: pr, SIGN: sign, FILL_BYTE: fill_byte,
              FILL: fill, BYTE_SHIFT[k]: 1}
    for i in range(3):
        values[BITS[i]] = (bs >> i) & 1
    for i in range(4):
        values.update({A[i]: ab[i], LO[i]: lo[i], HI[i]: hi[i], C[i]: c[i], RES[i]: res[i]})
    for col, v in values.items():
        row[col] = v  # type: ignore[index]
    return sum(v << 8 * i for i, v in enumerate(res))


def fill_padding(row: object) -> None:
    """Padding rows: zeros, with pow = 1 and pow_right = 256 so 2^bs·2^(8−bs) = 256 holds."""
    row[POW], row[POW_RIGHT] = 1, 256  # type: ignore[index]
