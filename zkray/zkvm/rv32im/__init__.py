"""The RV32IM executor: run a guest ELF exactly as the RISC-V unprivileged specification says.

`execute(elf, input)` loads the ELF, runs it under the guest ABI (docs/guest-abi.md) and returns a
`Session` with the exit code, journal, cycle count, image id and the per-cycle trace for the prover;
`plan_segments` / `execute_segment` cut one run into independently provable segments.
Pure computation: no Ray, no I/O beyond the bytes it is given.
"""

from zkray.zkvm.elf import ElfError, ElfLimits, Program, load_elf
from zkray.zkvm.rv32im.errors import (
    CycleLimitExceeded,
    EcallError,
    ExecutionError,
    IllegalInstruction,
    JournalLimitExceeded,
    MemoryFault,
    MisalignedAccess,
)
from zkray.zkvm.rv32im.executor import DEFAULT_CYCLE_LIMIT, DEFAULT_JOURNAL_LIMIT, execute
from zkray.zkvm.rv32im.image import image_id
from zkray.zkvm.rv32im.segment import Boundary, SegmentPlan, SegmentRun, execute_segment, plan_segments
from zkray.zkvm.rv32im.session import Session
from zkray.zkvm.rv32im.trace import TRACE_COLUMNS, Trace

__all__ = [
    "DEFAULT_CYCLE_LIMIT",
    "DEFAULT_JOURNAL_LIMIT",
    "TRACE_COLUMNS",
    "Boundary",
    "CycleLimitExceeded",
    "EcallError",
    "ElfError",
    "ElfLimits",
    "ExecutionError",
    "IllegalInstruction",
    "JournalLimitExceeded",
    "MemoryFault",
    "MisalignedAccess",
    "Program",
    "SegmentPlan",
    "SegmentRun",
    "Session",
    "Trace",
    "execute",
    "execute_segment",
    "image_id",
    "load_elf",
    "plan_segments",
]
