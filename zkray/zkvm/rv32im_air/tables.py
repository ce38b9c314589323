"""Fixed-content chips: the byte-pair range table and the program table.

`BYTES` has 2^16 rows, one per pair (x, y) of bytes; it receives ("bytes", x, y) range checks (every
other chip checks two bytes with one send) and ("bitwise", op, x, y, x op y) for AND, OR, XOR, each with
a free multiplicity. Its rows are constrained to be exactly the pairs (0,0), (0,1), …, (255,255) with
correct results (see `BytePairAir`), so a free (even "negative") multiplicity is harmless: every tuple
the table can take part in is valid.

`PROGRAM` has one row per supported code word: the decoded fields (decode.py) and how often the CPU
executed that pc. It receives ("program", fields) with that multiplicity and sends ("code", fields) once
per real row; the verifier receives ("code", fields) once per decoded code word of the ELF it holds, so the
table is exactly the image's code and a proof for one ELF never verifies for another image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from zkray.zkvm.air import Air, ConstraintBuilder, Val
from zkray.zkvm.multi import Chip, Interaction
from zkray.zkvm.rv32im_air.layout import Layout

BYTES_BUS, BITWISE_BUS, PROGRAM_BUS, CODE_BUS = "bytes", "bitwise", "program", "code"
LOG_BYTE_ROWS = 16
NUM_FIELDS = 11  # decode.Decoded.fields()
NOMINAL_LOG_N = 3
"""Height reported by chips whose real height the prover picks (used only to fingerprint their AIR)."""

_B = Layout()
XBITS, YBITS = _B.cols("x_bit", 8), _B.cols("y_bit", 8)
BAND, BXOR = _B.col("and"), _B.col("xor")
BMULT = {name: _B.col(f"mult_{name}") for name in ("range", "and", "or", "xor")}
BITWISE_OPS = ("and", "or", "xor")
"""Bitwise tuples carry the op as its index here: ("bitwise", op, x, y, x op y)."""


def _byte(r: Sequence[Val], bits: Sequence[int]) -> Val:
    total = r[bits[0]]
    for i, c in enumerate(bits[1:], start=1):
        total = total + (1 << i) * r[c]
    return total


def byte_x(r: Sequence[Val]) -> Val:
    return _byte(r, XBITS)


def byte_y(r: Sequence[Val]) -> Val:
    return _byte(r, YBITS)


class BytePairAir(Air):
    """Rows enumerate every byte pair (x, y) by their 16 bits, with x AND y and x XOR y.

    Why that pins the rows: the bits are boolean, so index = 256·x + y is an integer in [0, 2^16); it starts
    at 0 and steps by 1, so the 2^16 rows are exactly the pairs, each once. AND and XOR are the bitwise
    formulas over those bits (OR = AND + XOR), so every tuple the table serves is correct."""

    name = "rv32im-bytes"
    main_width = _B.width
    max_degree = 2

    def log_trace_length(self, public: Sequence[int]) -> int:
        return LOG_BYTE_ROWS

    def eval(self, b: ConstraintBuilder) -> None:
        r, nx = b.main, b.main_next
        for c in (*XBITS, *YBITS):
            b.assert_zero(f"bit {_B.names[c]} is boolean", r[c] * (r[c] - 1))
        index = 256 * byte_x(r) + byte_y(r)
        b.assert_row("the pairs start at (0, 0)", index, 0)
        b.assert_transition("the pairs step by one: 256·x + y increases by 1",
                            256 * byte_x(nx) + byte_y(nx) - index - 1)
        and_, xor = Val.const(0), Val.const(0)
        for i, (xc, yc) in enumerate(zip(XBITS, YBITS, strict=True)):
            and_ = and_ + (1 << i) * r[xc] * r[yc]
            xor = xor + (1 << i) * (r[xc] + r[yc] - 2 * r[xc] * r[yc])
        b.assert_zero("and = Σ 2^i·x_i·y_i", r[BAND] - and_)
        b.assert_zero("xor = Σ 2^i·(x_i + y_i − 2·x_i·y_i)", r[BXOR] - xor)


def _bitwise(op: int, result: Callable[[Sequence[Val]], Val]) -> Interaction:
    return Interaction.receive(BITWISE_BUS, lambda r: [op, byte_x(r), byte_y(r), result(r)],
                               lambda r: r[BMULT[BITWISE_OPS[op]]])


BYTES = Chip(BytePairAir(), (
    Interaction.receive(BYTES_BUS, lambda r: [byte_x(r), byte_y(r)], lambda r: r[BMULT["range"]]),
    _bitwise(0, lambda r: r[BAND]),
    _bitwise(1, lambda r: r[BAND] + r[BXOR]),
    _bitwise(2, lambda r: r[BXOR]),
), fixed_height=True)

_P = Layout()
PREAL, PMULT = _P.col("real"), _P.col("mult")
PFIELDS = _P.cols("field", NUM_FIELDS)


class ProgramAir(Air):
    """Decoded code words; padding rows (real = 0) may not serve lookups."""

    name = "rv32im-program"
    main_width = _P.width
    max_degree = 2

    def log_trace_length(self, public: Sequence[int]) -> int:
        return NOMINAL_LOG_N

    def eval(self, b: ConstraintBuilder) -> None:
        real = b.main[PREAL]
        b.assert_zero("real is boolean", real * (real - 1))
        b.assert_zero("padding rows serve no lookups", (1 - real) * b.main[PMULT])


PROGRAM = Chip(ProgramAir(), (
    Interaction.receive(PROGRAM_BUS, lambda r: [r[c] for c in PFIELDS], lambda r: r[PMULT]),
    Interaction.send(CODE_BUS, lambda r: [r[c] for c in PFIELDS], lambda r: r[PREAL]),
))
