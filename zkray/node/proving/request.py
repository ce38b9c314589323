"""What one prove task is asked to do, and the code that runs inside it.

The seam: `PROVERS` maps a program kind to a function shaped like `zkray.prove(program, input) ->
Receipt`. Built-in guests are kind "builtin" (program = guest name); RV32IM ELF guests become kind "elf"
with one more line here once the zkvm's ELF prover lands. Multi-segment guests fan out below this seam
(one task per segment) without the pool or the node changing.

`Fault` is a drill, not a test double: it makes a real task hang or its worker die once (guarded by a
marker file), so an operator, the tests and the end-to-end node can watch the pool kill and retry it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from zkray.node.proving.errors import ProvingError, RemoteReceiptInvalid, UnknownProgramKind
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
    OOM killer would), `oom` raises MemoryError in the task, `error` raises a retryable error. Fires only
    while `marker` does not exist."""

    kind: Literal["hang", "crash", "oom", "error"]
    marker: str
    seconds: float = 3600.0


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


class RemoteProver(Protocol):
    """A Bonsai-compatible proving service (another zkray cluster, or RISC Zero's). Runs inside a task,
    so it must pickle; the HTTP client implementing it comes with the API issue."""

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
) -> bytes:
    """The body of a prove task: prove (or ask the remote prover), verify, return the encoded receipt.

    Every receipt is verified before it leaves the task, remote ones included: a proof that does not
    verify is never stored or submitted.
    """
    if fault is not None:
        _trigger(fault)
    if backend is ProverBackend.REMOTE:
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
    receipt = prover(program, input)
    receipt.verify(image_id)
    return receipt.encode()


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
