"""The prove task's body without Ray: the seam, local verification of remote receipts, fault drills, and
the memory budget (RLIMIT_AS) a task proves under and gives back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from zkray import guests, prove
from zkray.node.proving import PROVERS, Fault, ProveOutOfMemory, RemoteReceiptInvalid, UnknownProgramKind, run_prove
from zkray.node.proving.request import DrillError
from zkray.policy.degradation import ProverBackend as B
from zkray.policy.retry import ErrorKind, classify
from zkray.zkvm.receipt import Receipt

FIB = guests()["fib"]


class AnswersWith:
    """A remote prover that answers every request with fixed bytes (what a buggy or lying service does)."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer

    def prove(self, kind: str, program: Any, input: bytes) -> bytes:
        return self.answer


def test_the_seam_maps_a_program_kind_to_a_prover_shaped_like_zkray_prove() -> None:
    assert PROVERS["builtin"] is prove
    encoded = run_prove(B.CPU, "builtin", "fib", (7).to_bytes(4, "little"), FIB, None, None)
    assert Receipt.decode(encoded).image_id == FIB
    with pytest.raises(UnknownProgramKind, match="known: \\['builtin'"):
        run_prove(B.CPU, "wasm", b"", b"", None, None, None)


def test_remote_receipts_are_verified_locally_and_a_bad_one_is_the_services_fault() -> None:
    good = prove("fib", (7).to_bytes(4, "little")).encode()
    assert run_prove(B.REMOTE, "builtin", "fib", b"", FIB, None, AnswersWith(good)) == good
    other = prove("fib_input_initial", bytes(4) + (1).to_bytes(4, "little") * 2).encode()
    for answer in (b"garbage", other, good[:-1] + bytes([good[-1] ^ 1])):
        with pytest.raises(RemoteReceiptInvalid) as caught:
            run_prove(B.REMOTE, "builtin", "fib", b"", FIB, None, AnswersWith(answer))
        assert classify(caught.value) is ErrorKind.RETRYABLE  # falls back to GPU/CPU, counts against the breaker


def test_a_fault_drill_fires_once_per_marker(tmp_path: Path) -> None:
    fault = Fault("error", str(tmp_path / "marker"))
    with pytest.raises(DrillError):
        run_prove(B.CPU, "builtin", "fib", (5).to_bytes(4, "little"), FIB, fault, None)
    assert run_prove(B.CPU, "builtin", "fib", (5).to_bytes(4, "little"), FIB, fault, None)


BUDGET = 256 << 20  # fib(16) proves well within it; fib(65536) needs more (its trace and LDE alone)


_BUDGET_CHECK = """
import resource
from zkray import guests
from zkray.node.proving import ProveOutOfMemory, run_prove
from zkray.policy.degradation import ProverBackend as B
from zkray.zkvm.receipt import Receipt

FIB, BUDGET = guests()["fib"], {budget}
before = resource.getrlimit(resource.RLIMIT_AS)
try:
    run_prove(B.CPU, "builtin", "fib", (65536).to_bytes(4, "little"), FIB, None, None, memory_bytes=BUDGET)
    print("no error")
except ProveOutOfMemory as e:
    print("oom:", e)
assert resource.getrlimit(resource.RLIMIT_AS) == before, "limit not given back"
small = run_prove(B.CPU, "builtin", "fib", (16).to_bytes(4, "little"), FIB, None, None, memory_bytes=BUDGET)
Receipt.decode(small).verify(FIB)
assert resource.getrlimit(resource.RLIMIT_AS) == before, "limit not given back"
print("small ok")
"""


def test_a_proof_past_its_memory_budget_fails_allocation_and_the_limit_is_given_back() -> None:
    """In a fresh interpreter, as a fresh Ray worker is: the budget is counted from the process's current
    address space, and a long-lived test process may already hold freed-but-mapped heap that a proof could
    reuse without reaching the cap (what the pool's real-Ray test covers with workers of its own)."""
    out = subprocess.run([sys.executable, "-c", _BUDGET_CHECK.format(budget=BUDGET)], capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "oom: " in out.stdout and "task budget 256 MiB" in out.stdout, out.stdout
    assert "small ok" in out.stdout
    assert classify(ProveOutOfMemory("x")) is ErrorKind.RETRYABLE  # the pool retries it once, then gives up


def test_the_oom_drill_fails_like_a_real_allocation_once(tmp_path: Path) -> None:
    fault = Fault("oom", str(tmp_path / "oom"))
    with pytest.raises(ProveOutOfMemory, match="fault drill"):
        run_prove(B.CPU, "builtin", "fib", (5).to_bytes(4, "little"), FIB, fault, None)
    assert run_prove(B.CPU, "builtin", "fib", (5).to_bytes(4, "little"), FIB, fault, None)
