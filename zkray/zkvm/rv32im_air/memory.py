"""The register file and RAM: the final side of offline memory checking, bound to the segment statement.

Every access the CPU (or the io chip) makes consumes the tuple (address, v0..v3, t_prev[, ro]) the previous
access left and produces (address, v'0..v'3, t) with t_prev < t (range-checked by the accessing chip).
The verifier itself produces each address's initial tuple at timestamp 0 from the claim (the start
registers; each listed word's `before` value and read-only flag), as public tuples. These chips consume each
address's final tuple, whatever its timestamp, and forward (address, final value) to a public tuple the
verifier builds from the claim (the end registers; each listed word's `after` value). So with the multiset
equality on the buses, every read returns the last value written, starting from the claim's values and
ending at the claim's values (docs/rv32im-air.md gives the argument).

Registers (bus "reg") and RAM (bus "mem") are separate buses, so a RAM access can never reach a register.
- `REGISTERS`: fixed 32 rows, index i = row.
- `RAM`: one real row per word of the claim's memory list (its "ram-final" tuples pin the rows to exactly
  that list, so no address has two rows). A word the CPU accesses that is not in the list has no initial
  tuple, so its first access consumes a tuple nobody produced: unprovable. `ro` (words inside the ELF's
  executable segments, decided by the verifier) travels with the address's tuples and the CPU and io chip
  refuse to write to them, so code the program table describes cannot change under it.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkray.zkvm.air import Air, ConstraintBuilder
from zkray.zkvm.multi import Chip, Interaction
from zkray.zkvm.rv32im_air.layout import Layout
from zkray.zkvm.rv32im_air.tables import NOMINAL_LOG_N

REG_BUS, MEM_BUS, REG_FINAL_BUS, RAM_FINAL_BUS = "reg", "mem", "reg-final", "ram-final"
RAM_START = 0x1000

_R = Layout()
RIDX = _R.col("index")
RFINAL = _R.cols("final", 4)
RFINAL_T = _R.col("final_t")


class RegistersAir(Air):
    """x0..x31, one per row: the index counts from 0 (so each register has exactly one row)."""

    name = "rv32im-registers"
    version = 2
    main_width = _R.width
    max_degree = 2

    def log_trace_length(self, public: Sequence[int]) -> int:
        return 5

    def eval(self, b: ConstraintBuilder) -> None:
        b.assert_row("index starts at 0", b.main[RIDX], 0)
        b.assert_transition("index steps by 1", b.main_next[RIDX] - b.main[RIDX] - 1)


REGISTERS = Chip(RegistersAir(), (
    Interaction.receive(REG_BUS, lambda r: [r[RIDX], *(r[c] for c in RFINAL), r[RFINAL_T]]),
    Interaction.send(REG_FINAL_BUS, lambda r: [r[RIDX], *(r[c] for c in RFINAL)]),  # = the claim's end registers
), fixed_height=True)

_M = Layout()
MREAL, MRO, MADDR = _M.col("real"), _M.col("ro"), _M.col("addr")
MFINAL = _M.cols("final", 4)
MFINAL_T = _M.col("final_t")


class RamAir(Air):
    """The claim's memory words, one per real row (see the module docstring)."""

    name = "rv32im-ram"
    version = 2
    main_width = _M.width
    max_degree = 2

    def log_trace_length(self, public: Sequence[int]) -> int:
        return NOMINAL_LOG_N

    def eval(self, b: ConstraintBuilder) -> None:
        real = b.main[MREAL]
        b.assert_zero("real is boolean", real * (real - 1))


RAM = Chip(RamAir(), (
    Interaction.receive(MEM_BUS, lambda r: [r[MADDR], *(r[c] for c in MFINAL), r[MFINAL_T], r[MRO]],
                        lambda r: r[MREAL]),
    Interaction.send(RAM_FINAL_BUS, lambda r: [r[MADDR], *(r[c] for c in MFINAL)], lambda r: r[MREAL]),
))
