"""What one execution of a guest produced: the claim a receipt will carry, plus the prover's trace."""

from __future__ import annotations

from dataclasses import dataclass

from zkray.zkvm.rv32im.trace import Trace


@dataclass(frozen=True)
class Session:
    """The result of `execute`: a halted guest.

    `cycles` counts retired instructions, the final exit ECALL included; it is what a job costs to
    prove and what the scheduler prices. `trace` is None when the execution ran without tracing.
    """

    exit_code: int  # the guest's a0 at the exit ECALL, as an unsigned 32-bit value
    journal: bytes  # everything the guest wrote to fd 1, in order
    cycles: int
    image_id: bytes  # 32 bytes, see zkray.zkvm.rv32im.image
    input_read: int  # how many input bytes the guest consumed
    trace: Trace | None = None
