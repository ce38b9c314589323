"""The per-cycle execution trace, laid out once for the RV32IM AIR of the proving issue.

One row per retired instruction (one cycle). Columns are uint32 and stored column-major in one
`(len(TRACE_COLUMNS), cycles)` array, so a column is a contiguous vector for the prover. Indices are
derived from the name tuple, never typed by hand. docs/executor.md explains each column.

ECALLs move whole byte ranges (input into memory, memory into the journal), which does not fit one
row; their arguments and results are also logged in a small side table, `ecalls`, one row per ECALL.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRACE_COLUMNS = (
    "pc",  # address of the instruction
    "insn",  # the 32-bit instruction word fetched at pc
    "next_pc",  # pc of the next row (the exit ECALL repeats its own pc: the machine has halted)
    "rs1",  # first source register index read (0 when the format has none)
    "rs2",  # second source register index read (0 when the format has none)
    "rd",  # destination register index written (0 when nothing is written)
    "rs1_val",  # value of rs1 before the instruction
    "rs2_val",  # value of rs2 before the instruction
    "rd_val",  # value written to rd (0 when rd is 0)
    "mem_addr",  # effective byte address of a load or store (0 otherwise)
    "mem_before",  # the aligned word containing mem_addr, before the instruction
    "mem_after",  # the same word after the instruction (equal to mem_before for loads)
)
NUM_COLUMNS = len(TRACE_COLUMNS)
COL = {name: i for i, name in enumerate(TRACE_COLUMNS)}
PC, INSN, NEXT_PC, RS1, RS2, RD, RS1_VAL, RS2_VAL, RD_VAL, MEM_ADDR, MEM_BEFORE, MEM_AFTER = (
    COL[n] for n in TRACE_COLUMNS
)

ECALL_COLUMNS = ("cycle", "number", "a0", "a1", "a2", "result")
NUM_ECALL_COLUMNS = len(ECALL_COLUMNS)
E_CYCLE, E_NUMBER, E_A0, E_A1, E_A2, E_RESULT = range(NUM_ECALL_COLUMNS)


@dataclass(frozen=True)
class Trace:
    """The columns of one execution; `columns[COL[name]]` or the attribute of the same name."""

    columns: np.ndarray  # uint32, shape (NUM_COLUMNS, cycles); each column contiguous (rows are padded)
    ecalls: np.ndarray  # int64, shape (NUM_ECALL_COLUMNS, number of ECALLs)

    def __len__(self) -> int:
        return int(self.columns.shape[1])

    def column(self, name: str) -> np.ndarray:
        """One column by name, as a read-only view."""
        return self.columns[COL[name]]

    def __getattr__(self, name: str) -> np.ndarray:
        if name in COL:
            return self.columns[COL[name]]
        raise AttributeError(name)
