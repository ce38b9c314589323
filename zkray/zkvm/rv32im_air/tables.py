"""Fixed-content chips: the byte-pair range table and the program table.

`BYTES` has 2^16 rows, one per pair (x, y) of bytes; it receives ("bytes", x, y) with a free multiplicity.
Every other chip range-checks two bytes with one send. Its rows are constrained to be exactly the pairs
(0,0), (0,1), …, (255,255) (see `BytePairAir`), so a free (even "negative") multiplicity is harmless:
every tuple the table can take part in is a valid pair.

`PROGRAM` has one row per supported code word: the decoded fields (decode.py) and how often the CPU
executed that pc. It receives ("program", fields) with that multiplicity and sends ("code", fields) once
per real row; the verifier receives ("code", fields) once per decoded code word of the ELF it holds, so the
table is exactly the image's code and a proof for one ELF never verifies for another image.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkray.zkvm.air import Air, ConstraintBuilder
from zkray.zkvm.multi import Chip, Interaction
from zkray.zkvm.rv32im_air.layout import Layout

BYTES_BUS, PROGRAM_BUS, CODE_BUS = "bytes", "program", "code"
LOG_BYTE_ROWS = 16
NUM_FIELDS = 11  # decode.Decoded.fields()
NOMINAL_LOG_N = 3
"""Height reported by chips whose real height the prover picks (used only to fingerprint their AIR)."""

_B = Layout()
BX, BY, BWRAP, BMULT = _B.col("x"), _B.col("y"), _B.col("wrap"), _B.col("mult")


class BytePairAir(Air):
    """Rows enumerate every byte pair: y counts 0..255 and wraps to 0 exactly when it is 255, x counts wraps.

    Why that pins the rows: each stretch between wraps starts at y = 0 and steps by 1 until a wrap, which
    needs y = 255, so it is exactly 256 rows; x ends at 255 on the last row, so there are 255 wraps, and
    the last stretch (ending at y = 255 on the last row) is 256 rows too. 256 stretches × 256 rows = 2^16."""

    name = "rv32im-bytes"
    main_width = _B.width
    max_degree = 2

    def log_trace_length(self, public: Sequence[int]) -> int:
        return LOG_BYTE_ROWS

    def eval(self, b: ConstraintBuilder) -> None:
        x, y, w = b.main[BX], b.main[BY], b.main[BWRAP]
        b.assert_row("x starts at 0", x, 0)
        b.assert_row("y starts at 0", y, 0)
        b.assert_row("x ends at 255", x - 255, -1)
        b.assert_row("y ends at 255", y - 255, -1)
        b.assert_zero("wrap is boolean", w * (w - 1))
        b.assert_zero("wrap only when y = 255", w * (y - 255))
        b.assert_transition("y steps by 1, or resets to 0 on a wrap", b.main_next[BY] - (y + 1) * (1 - w))
        b.assert_transition("x steps by 1 exactly on a wrap", b.main_next[BX] - x - w)


BYTES = Chip(BytePairAir(), (Interaction.receive(BYTES_BUS, lambda r: [r[BX], r[BY]], lambda r: r[BMULT]),),
             fixed_height=True)

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
