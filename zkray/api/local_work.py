"""What one session does inside a worker thread: execute, check the cycle limit, prove. Synchronous and pure.

Built-in guests are executed by their witness generator and proven with `zkray.prove`; uploaded ELFs
are executed by the RV32IM executor, and proven by `elf_prover` once the zkvm provides one (until then
a proving session on an ELF fails with a message saying so, and execute-only sessions work).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from zkray.api.service import SessionStats
from zkray.proving import prove as prove_builtin
from zkray.zkvm.errors import ZkvmError
from zkray.zkvm.guests import by_name
from zkray.zkvm.receipt import Receipt
from zkray.zkvm.rv32im import execute

ElfProver = Callable[[bytes, bytes], Receipt]
"""(ELF bytes, input bytes) -> Receipt: the zkvm's ELF prover, injected when it exists."""


class SessionRefused(ZkvmError):
    """The session cannot succeed as asked (cycle limit, guest exit code, no ELF prover); the message says why."""


@dataclass(frozen=True)
class Outcome:
    """A successful session's products; `receipt` is None for execute-only sessions."""

    journal: bytes
    stats: SessionStats
    receipt: bytes | None


@dataclass(frozen=True)
class Work:
    """One session's job for a worker thread: a built-in guest (by name) or an ELF, and its input."""

    input: bytes
    execute_only: bool
    cycle_limit: int | None
    builtin: str | None = None
    elf: bytes | None = None


Progress = Callable[[str, str], None]
"""(state, log line): the worker reports where it is; the service shows it in status and logs."""


def run(work: Work, progress: Progress, elf_prover: ElfProver | None) -> Outcome:
    """Execute, enforce the cycle limit, then prove unless execute-only. Raises ZkvmError subclasses."""
    if work.builtin is not None:
        return _run_builtin(work, work.builtin, progress)
    assert work.elf is not None
    return _run_elf(work, work.elf, progress, elf_prover)


def _check_limit(cycles: int, limit: int | None) -> None:
    if limit is not None and cycles > limit:
        raise SessionRefused(f"the guest needs {cycles} cycles, above the session's cycle limit of {limit}; "
                             "raise exec_cycle_limit (within your quota) or shrink the input")


def _run_builtin(work: Work, name: str, progress: Progress) -> Outcome:
    guest = by_name(name)
    progress("Executor", f"executing built-in guest {name} on {len(work.input)} input bytes")
    inp = guest.parse_input(work.input)
    out = guest.output(inp)
    journal = guest.journal(inp, out)
    rows = 1 << guest.air.log_trace_length(guest.public(inp, out))
    stats = SessionStats(segments=1, total_cycles=rows, cycles=inp.n)
    _check_limit(stats.cycles, work.cycle_limit)
    progress("Executor", f"executor: {stats.cycles} cycles, {rows} trace rows, journal {len(journal)} bytes")
    if work.execute_only:
        return Outcome(journal, stats, None)
    progress("ProveSegments: 0/1", "prover: proving segment 1 of 1")
    receipt = prove_builtin(name, work.input)
    progress("Finalize", f"prover: receipt of {len(receipt.seal)} seal bytes")
    return Outcome(receipt.journal, stats, receipt.encode())


def _run_elf(work: Work, elf: bytes, progress: Progress, elf_prover: ElfProver | None) -> Outcome:
    progress("Executor", f"executing ELF guest on {len(work.input)} input bytes")
    session = execute(elf, work.input, cycle_limit=work.cycle_limit, trace=False)
    if session.exit_code != 0:
        raise SessionRefused(f"the guest exited with code {session.exit_code} after {session.cycles} cycles "
                             "(1 means it rejected its input); check the input format the guest expects")
    stats = SessionStats(segments=1, total_cycles=session.cycles, cycles=session.cycles)
    progress("Executor", f"executor: {session.cycles} cycles, journal {len(session.journal)} bytes")
    if work.execute_only:
        return Outcome(session.journal, stats, None)
    if elf_prover is None:
        raise SessionRefused("this node cannot prove uploaded ELF guests yet (no RV32IM proving backend is "
                             "installed); run the session with execute_only, or use a built-in guest")
    progress("ProveSegments: 0/1", "prover: proving the ELF execution")
    receipt = elf_prover(elf, work.input)
    progress("Finalize", f"prover: receipt of {len(receipt.seal)} seal bytes")
    return Outcome(receipt.journal, stats, receipt.encode())
