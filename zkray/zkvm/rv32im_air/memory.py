"""The register file and RAM: the initial and final side of offline memory checking.

Every access the CPU makes consumes the tuple (address, v0..v3, t_prev[, ro]) the previous access (or
the initial state) left and produces (address, v'0..v'3, t) with t_prev < t (range-checked in the CPU).
These chips produce each address's initial tuple (timestamp 0) and consume its final one, once per
address; with that, the multiset equality on the bus forces every read to return the last value written
(docs/rv32im-air.md gives the argument).

Registers (bus "reg") and RAM (bus "mem") are separate buses, so a RAM access can never reach a register.
- `REGISTERS`: fixed 32 rows, index i = row; every register starts at 0.
- `RAM`: one row per touched word and per non-zero word of the image, addresses strictly increasing from
  0x1000 (so each address has exactly one initial value). Rows flagged `img` take their initial word and
  read-only flag from the verifier's ("image", address, bytes, ro) tuples, one per non-zero image word;
  every other row starts at 0. `ro` words (the executable segments) travel with the address's tuples and
  the CPU refuses to store to them, so code the program table describes cannot change under it.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkray.zkvm.air import Air, ConstraintBuilder, Val
from zkray.zkvm.multi import Chip, Interaction
from zkray.zkvm.rv32im_air.layout import Layout
from zkray.zkvm.rv32im_air.tables import BYTES_BUS, NOMINAL_LOG_N

REG_BUS, MEM_BUS, IMAGE_BUS = "reg", "mem", "image"
RAM_START = 0x1000

_R = Layout()
RIDX = _R.col("index")
RFINAL = _R.cols("final", 4)
RFINAL_T = _R.col("final_t")


class RegistersAir(Air):
    """x0..x31, one per row: the index counts from 0 (so each register has exactly one row)."""

    name = "rv32im-registers"
    main_width = _R.width
    max_degree = 2

    def log_trace_length(self, public: Sequence[int]) -> int:
        return 5

    def eval(self, b: ConstraintBuilder) -> None:
        b.assert_row("index starts at 0", b.main[RIDX], 0)
        b.assert_transition("index steps by 1", b.main_next[RIDX] - b.main[RIDX] - 1)


REGISTERS = Chip(RegistersAir(), (
    Interaction.send(REG_BUS, lambda r: [r[RIDX], 0, 0, 0, 0, 0]),  # every register starts at 0
    Interaction.receive(REG_BUS, lambda r: [r[RIDX], *(r[c] for c in RFINAL), r[RFINAL_T]]),
), fixed_height=True)

_M = Layout()
MREAL, MIMG, MRO = _M.col("real"), _M.col("img"), _M.col("ro")
MADDR = _M.cols("addr", 4)  # address bytes, little-endian
MINIT = _M.cols("init", 4)
MFINAL = _M.cols("final", 4)
MFINAL_T = _M.col("final_t")
MGAP = _M.cols("gap", 4)  # row 0: address − 0x1000; row i: address_i − address_{i−1} − 1


def _word(r: Sequence[Val], cols: Sequence[int]) -> Val:
    return r[cols[0]] + 256 * r[cols[1]] + 65536 * r[cols[2]] + (1 << 24) * r[cols[3]]


class RamAir(Air):
    """Touched and image words, by strictly increasing address (see the module docstring).

    Address and gap are byte-decomposed with the top byte < 16 (range checks below), so both are integers
    below 2^28 + 2^24 and address' − address − 1 = gap' holds as integers, not just mod p: addresses
    really increase, and no two rows share one."""

    name = "rv32im-ram"
    main_width = _M.width
    max_degree = 2

    def log_trace_length(self, public: Sequence[int]) -> int:
        return NOMINAL_LOG_N

    def eval(self, b: ConstraintBuilder) -> None:
        m, nx = b.main, b.main_next
        real, img, ro = m[MREAL], m[MIMG], m[MRO]
        for name, v in (("real", real), ("img", img), ("ro", ro)):
            b.assert_zero(f"{name} is boolean", v * (v - 1))
        b.assert_transition("real rows come first", (1 - real) * nx[MREAL])
        b.assert_zero("only real rows come from the image", img * (1 - real))
        b.assert_zero("only image words are read-only", ro * (1 - img))
        for k, c in enumerate(MINIT):
            b.assert_zero(f"a word not in the image starts at 0 (byte {k})", (1 - img) * m[c])
        b.assert_row("the first address is at least 0x1000", _word(m, MGAP) - _word(m, MADDR) + RAM_START, 0)
        b.assert_transition("addresses strictly increase (gap = address' − address − 1 ≥ 0)",
                            nx[MREAL] * (_word(nx, MGAP) - _word(nx, MADDR) + _word(m, MADDR) + 1))


def _ram_tuple(r: Sequence[Val], values: Sequence[int], t: Val | int) -> list[Val | int]:
    return [_word(r, MADDR), *(r[c] for c in values), t, r[MRO]]


RAM = Chip(RamAir(), (
    Interaction.send(MEM_BUS, lambda r: _ram_tuple(r, MINIT, 0), lambda r: r[MREAL]),
    Interaction.receive(MEM_BUS, lambda r: _ram_tuple(r, MFINAL, r[MFINAL_T]), lambda r: r[MREAL]),
    Interaction.send(IMAGE_BUS, lambda r: [_word(r, MADDR), *(r[c] for c in MINIT), r[MRO]], lambda r: r[MIMG]),
    # address and gap bytes; the top byte × 16 must be a byte too, so it is < 16
    Interaction.send(BYTES_BUS, lambda r: [r[MADDR[0]], r[MADDR[1]]], lambda r: r[MREAL]),
    Interaction.send(BYTES_BUS, lambda r: [r[MADDR[2]], 16 * r[MADDR[3]]], lambda r: r[MREAL]),
    Interaction.send(BYTES_BUS, lambda r: [r[MGAP[0]], r[MGAP[1]]], lambda r: r[MREAL]),
    Interaction.send(BYTES_BUS, lambda r: [r[MGAP[2]], 16 * r[MGAP[3]]], lambda r: r[MREAL]),
))
