"""Errors of the RV32IM executor, drawn once:

    ZkvmError
    ├── ElfError (zkray.zkvm.elf)     the bytes are not a loadable RV32IM guest
    └── ExecutionError                the guest did something the ISA or the guest ABI forbids
        ├── IllegalInstruction        a word that is not an RV32IM instruction (or EBREAK)
        ├── MisalignedAccess          a load, store or jump target that is not naturally aligned
        ├── MemoryFault               an access outside guest memory
        ├── EcallError                an ECALL the guest ABI does not define, or bad arguments to one
        ├── JournalLimitExceeded      the guest wrote more journal than allowed
        └── CycleLimitExceeded        the guest did not halt within its cycle budget

Every execution error carries the pc of the faulting instruction and the cycle it was reached at.
"""

from __future__ import annotations

from zkray.zkvm.errors import ZkvmError


class ExecutionError(ZkvmError):
    """The guest stopped without halting; `pc` and `cycle` say where, the message says why."""

    def __init__(self, message: str, *, pc: int, cycle: int) -> None:
        super().__init__(f"{message} (pc={pc:#010x}, cycle {cycle})")
        self.pc = pc
        self.cycle = cycle


class IllegalInstruction(ExecutionError):
    """The word at pc is not an RV32IM instruction; check the guest was built with -march=rv32im."""


class MisalignedAccess(ExecutionError):
    """A load/store address or a jump target is not aligned; zkray traps instead of emulating it."""


class MemoryFault(ExecutionError):
    """An access falls outside guest memory (see docs/guest-abi.md for the memory map)."""


class EcallError(ExecutionError):
    """An ECALL number or argument that the guest ABI does not define."""


class JournalLimitExceeded(ExecutionError):
    """The journal grew past its limit; raise `journal_limit` or write less."""


class CycleLimitExceeded(ExecutionError):
    """The guest ran for `cycle_limit` cycles without halting; raise the limit or fix the guest."""
