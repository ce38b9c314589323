"""What one prove task is asked to do, and the code that runs inside it.

The seam: `PROVERS` maps a program kind to a function shaped like `zkray.prove(program, input) ->
Receipt`. Built-in guests are kind "builtin" (program = guest name). RV32IM ELF guests (kind "elf" with
`segments` set) do not go through it: the pool fans them out into one task per segment (`run_segment`,
whose body is `prove_segment_receipt`) and one join task (`run_compose`, whose body is `compose`), so a
long execution proves in parallel and a lost segment is proved again alone.

Memory: with `ProvingConfig.task_memory_mib` set, a task body proves under `memory_budget`: RLIMIT_AS is
set to the worker's address space at the task's start plus the budget, and restored when the body ends,
so a proof that needs more fails its allocation inside this task (`ProveOutOfMemory`) instead of pushing
the machine into swap or the kernel's OOM killer, which could pick another job's worker. Ray reuses
workers, hence the restore: the next task on this worker starts with the limit it had before.

`Fault` is a drill, not a test double: it makes a real task hang or its worker die once (guarded by a
marker file), so an operator, the tests and the end-to-end node can watch the pool kill and retry it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from zkray.node.proving.errors import ProveOutOfMemory, ProvingError, RemoteReceiptInvalid, UnknownProgramKind
from zkray.policy.degradation import ProverBackend
from zkray.proving import guests
from zkray.proving import prove as prove_builtin
from zkray.zkvm.errors import ZkvmError
from zkray.zkvm.receipt import Receipt

PROVERS: dict[str, Callable[[Any, bytes], Receipt]] = {
    "builtin": prove_builtin,
}
"""Program kind -> prover; the program is a guest name for "builtin" (an ELF's bytes for "elf")."""


@dataclass(frozen=True)
class Fault:
    """Make the task misbehave once: `hang` sleeps `seconds`, `crash` kills the worker process (as the
    OOM killer would), `oom` raises MemoryError inside the task's memory budget (what a failed allocation
    does, but once: the real limit fails the same proof every time, so only the drill shows a retry that
    then succeeds), `error` raises a retryable error. Fires only while `marker` does not exist."""

    kind: Literal["hang", "crash", "oom", "error"]
    marker: str
    seconds: float = 3600.0
    segment: int | None = None  # an ELF job: fire only in this segment's task (None: the job's first task)


@dataclass(frozen=True)
class ProveRequest:
    """One job's proof: program (or an object-store ref to it), input, and what the result must be."""

    job_id: str
    program: Any
    input: bytes | Any
    kind: str = "builtin"
    image_id: bytes | None = None  # the receipt must be for this program; checked in the task
    timeout_s: float | None = None  # per attempt; the pool's default when None
    fault: Fault | None = None
    segments: int | None = None  # kind "elf": how many segments preflight planned (one task each)
    segment_cycles: int | None = None  # kind "elf": cycles per segment (a power of two), as planned


class RemoteProver(Protocol):
    """A Bonsai-compatible proving service (another zkray cluster, or RISC Zero's). Runs inside a task,
    so it must pickle; `zkray.api.remote_prover` implements it with the Bonsai client."""

    def prove(self, kind: str, program: Any, input: bytes) -> bytes:
        """Encoded receipt for `program` on `input`; raise an error with `retryable` set on failure."""
        ...


def run_prove(
    backend: ProverBackend,
    kind: str,
    program: Any,
    input: bytes,
    image_id: bytes | None,
    fault: Fault | None,
    remote: RemoteProver | None,
    *,
    memory_bytes: int | None = None,
) -> bytes:
    """The body of a prove task: prove (or ask the remote prover), verify, return the encoded receipt.

    Every receipt is verified before it leaves the task, remote ones included: a proof that does not
    verify is never stored or submitted. Proving and verifying run within `memory_bytes` (a remote call
    only waits: no budget).
    """
    if backend is ProverBackend.REMOTE:
        if fault is not None:
            _trigger(fault)
        if remote is None:
            raise ProvingError("the remote backend was chosen but no remote prover is configured; configure one")
        encoded = remote.prove(kind, program, input)
        try:
            receipt = Receipt.decode(encoded)
            receipt.verify(image_id)
        except ZkvmError as err:  # the service's fault, not the job's: count it and fall back
            raise RemoteReceiptInvalid(f"the remote prover returned a receipt that does not verify: {err}") from err
        return encoded
    prover = PROVERS.get(kind)
    if prover is None:
        raise UnknownProgramKind(f"no prover for program kind {kind!r}; known: {sorted(PROVERS)}")
    with memory_budget(memory_bytes):
        if fault is not None:
            _trigger(fault)
        receipt = prover(program, input)
        receipt.verify(image_id)
    return receipt.encode()


ELF = "elf"
SEGMENT = "segment"
COMPOSE = "compose"
"""Program kinds: an ELF job, and the two task kinds it fans out into."""


def run_segment(
    backend: ProverBackend,
    elf: bytes,
    input: bytes,
    index: int,
    segment_cycles: int,
    fault: Fault | None,
    *,
    memory_bytes: int | None = None,
) -> bytes:
    """The body of a segment task: prove segment `index` of the ELF's run on `input` (pure: it re-executes
    untraced up to the segment, then traces and proves it) within `memory_bytes`, and return the encoded
    segment receipt."""
    from zkray.zkvm.continuation import prove_segment_receipt  # the composite prover (docs/segments-plan.md §3)

    with memory_budget(memory_bytes):
        if fault is not None and fault.segment in (None, index):
            _trigger(fault)
        # no debug check here: the join task verifies every segment's proof before the receipt is used
        return bytes(prove_segment_receipt(bytes(elf), bytes(input), index, segment_cycles, check=False))


def run_compose(
    backend: ProverBackend, elf: bytes, image_id: bytes | None, *segments: bytes, memory_bytes: int | None = None
) -> bytes:
    """The body of the join task: chain the segment receipts into one composite receipt, verify it with
    the ELF (every segment's proof and the state-digest chain), return its encoding. A composite that
    does not verify never leaves the task, like any other receipt."""
    from zkray.zkvm.continuation import compose

    with memory_budget(memory_bytes):
        receipt = compose(bytes(elf), [bytes(s) for s in segments])
        receipt.verify(image_id, program=bytes(elf))
    return receipt.encode()


@contextmanager
def memory_budget(extra_bytes: int | None) -> Iterator[None]:
    """Run the body with at most `extra_bytes` more address space than this process has now (RLIMIT_AS),
    the previous limit restored afterwards; a MemoryError in the body leaves as ProveOutOfMemory (with or
    without a budget: the machine itself may have run short).

    Address space, not resident memory: it is the limit the kernel enforces on each allocation, so the
    failing `mmap`/`malloc` is the proof's own and surfaces here as MemoryError. The base is the worker's
    size at the start (Ray workers map a lot before any task), so the budget means what the task adds.
    Where RLIMIT_AS is missing (not Linux) the body runs unlimited."""
    import resource

    limit_kind = getattr(resource, "RLIMIT_AS", None)
    previous = resource.getrlimit(limit_kind) if extra_bytes is not None and limit_kind is not None else None
    budget_note = "" if previous is None else f" (task budget {extra_bytes >> 20} MiB of address space)"
    failed: str | None = None
    try:
        if previous is not None:
            limit = _address_space() + int(extra_bytes)  # type: ignore[arg-type]
            limit = min([limit] + [cap for cap in previous if cap != resource.RLIM_INFINITY])  # never raise it
            hard = previous[1]
            resource.setrlimit(limit_kind, (limit, hard))
        yield
    except MemoryError as err:
        failed = str(err) or type(err).__name__  # not the error itself: its frames hold the proof's arrays
    finally:
        if previous is not None:
            resource.setrlimit(limit_kind, previous)
    if failed is not None:
        raise ProveOutOfMemory(f"out of memory in the prove task{budget_note}: {failed}")


def _address_space() -> int:
    """This process's virtual size now (VmSize in /proc/self/status), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("VmSize missing from /proc/self/status")


def expected_image_id(kind: str, program: Any) -> bytes | None:
    """The image id a built-in guest's receipt must carry (None for kinds that compute it in the task)."""
    return guests().get(program) if kind == "builtin" and isinstance(program, str) else None


class DrillError(RuntimeError):
    """Raised by an `error` fault drill; retryable like a transient failure."""

    retryable = True


def _trigger(fault: Fault) -> None:
    marker = Path(fault.marker)
    try:
        with open(marker, "x"):
            pass
    except FileExistsError:
        return  # this drill already fired once
    if fault.kind == "hang":
        time.sleep(fault.seconds)
    elif fault.kind == "crash":
        os._exit(137)  # what the OOM killer's SIGKILL looks like to Ray
    elif fault.kind == "oom":
        raise MemoryError(f"fault drill: an allocation failed (marker {marker})")
    else:
        raise DrillError(f"fault drill: a transient failure (marker {marker})")
