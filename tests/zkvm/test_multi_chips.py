"""Small chips for the multi-chip STARK tests: squares looked up in a table, bytes range-checked."""

import numpy as np

from zkray.zkvm import field as F
from zkray.zkvm.air import Air, ConstraintBuilder
from zkray.zkvm.multi import Chip, Interaction


class SquareSenderAir(Air):
    """Columns x, y with y = x·x; every row sends (x, y) on the "square" bus."""

    name = "test-square-sender"
    main_width = 2
    max_degree = 2

    def log_trace_length(self, public):
        return 4

    def eval(self, b: ConstraintBuilder) -> None:
        b.assert_zero("y = x·x", b.main[1] - b.main[0] * b.main[0])


class SquareTableAir(Air):
    """Column x = 0, 1, …, n−1 and a multiplicity; receives (x, x·x) (a degree-2 tuple: chip degree 3)."""

    name = "test-square-table"
    main_width = 2
    max_degree = 2

    def log_trace_length(self, public):
        return 6

    def eval(self, b: ConstraintBuilder) -> None:
        x, x_next = b.main[0], b.main_next[0]
        b.assert_row("x starts at 0", x, 0)
        b.assert_transition("x steps by 1", x_next - x - 1)


SENDER = Chip(SquareSenderAir(), (Interaction.send("square", lambda r: [r[0], r[1]]),))
TABLE = Chip(SquareTableAir(), (Interaction.receive("square", lambda r: [r[0], r[0] * r[0]], lambda r: r[1]),),
             fixed_height=True)


def square_traces(xs, table_rows=64):
    xs = np.asarray(xs, dtype=np.int64)
    sender = np.stack([xs, xs * xs]).astype(np.int64) % F.P
    table_x = np.arange(table_rows)
    mult = np.bincount(xs[(xs >= 0) & (xs < table_rows)], minlength=table_rows)[:table_rows]
    table = np.stack([table_x, mult]) % F.P
    return [sender.astype(np.uint32), table.astype(np.uint32)]


class ByteTableAir(Air):
    """Column v = 0..255 (starts at 0, steps by 1) and a multiplicity: receives (v) on the "byte" bus."""

    name = "test-byte-table"
    main_width = 2
    max_degree = 2

    def log_trace_length(self, public):
        return 8

    def eval(self, b: ConstraintBuilder) -> None:
        b.assert_row("v starts at 0", b.main[0], 0)
        b.assert_transition("v steps by 1", b.main_next[0] - b.main[0] - 1)


class LimbsAir(Air):
    """Columns lo, hi, w with w = lo + 256·hi; sends lo and hi to the byte table (w is then < 2^16)."""

    main_width = 3
    max_degree = 2

    def __init__(self, name, log_n):
        self.name = name
        self._log_n = log_n

    def log_trace_length(self, public):
        return self._log_n

    def eval(self, b: ConstraintBuilder) -> None:
        b.assert_zero("w = lo + 256·hi", b.main[2] - b.main[0] - 256 * b.main[1])


BYTES = Chip(ByteTableAir(), (Interaction.receive("byte", lambda r: [r[0]], lambda r: r[1]),), fixed_height=True)


def limbs_chip(name, log_n):
    return Chip(LimbsAir(name, log_n), (Interaction.send("byte", lambda r: [r[0]]),
                                        Interaction.send("byte", lambda r: [r[1]])))


def limbs_trace(words):
    w = np.asarray(words, dtype=np.int64)
    return (np.stack([w & 0xFF, w >> 8, w]) % F.P).astype(np.uint32)


def byte_table_trace(*limb_traces):
    limbs = np.concatenate([t[:2].ravel() for t in limb_traces]).astype(np.int64)
    mult = np.bincount(limbs[limbs < 256], minlength=256)[:256]
    return (np.stack([np.arange(256), mult]) % F.P).astype(np.uint32)
