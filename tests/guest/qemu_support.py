"""Run guests under qemu-riscv32 (Debian's qemu-user) and compare them with zkray's executor.

Two comparisons:
- outcome: journal (QEMU's stdout) and exit code (QEMU's exit status, which Linux cuts to 8 bits);
- step by step: `-singlestep -d cpu,nochain` makes QEMU log pc and all 32 registers before every
  instruction; zkray's trace gives pc and the register write of every cycle, from which the register
  file before each cycle is rebuilt and compared in full.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from zkray.zkvm.rv32im import Session

QEMU = "qemu-riscv32"
GCC = "riscv64-unknown-elf-gcc"
QEMU_TIMEOUT_S = 60

_PC = re.compile(rb"^ pc\s+([0-9a-f]{8})", re.M)
_REG = re.compile(rb"x\d+/\w+\s+([0-9a-f]{8})")


def require(tool: str) -> str:
    """The tool's path; fail (never skip) with the fix when it is missing."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: run scripts/setup.sh as root (it installs Debian's "
                    f"gcc-riscv64-unknown-elf and qemu-user)")
    return path


def run_qemu(elf: bytes, stdin: bytes, workdir: Path, *, log: bool = False) -> tuple[bytes, int, bytes]:
    """Run `elf` under QEMU with `stdin` from a file (so reads are never short); (stdout, rc, log)."""
    qemu = require(QEMU)
    workdir.mkdir(parents=True, exist_ok=True)
    exe, inp, log_path = workdir / "guest.elf", workdir / "input.bin", workdir / "qemu.log"
    exe.write_bytes(elf)
    exe.chmod(0o755)  # qemu-user refuses files without the execute bit
    inp.write_bytes(stdin)
    args = [qemu]
    if log:
        args += [_one_insn_per_tb_flag(qemu), "-d", "cpu,nochain", "-D", str(log_path)]
    with inp.open("rb") as f:
        done = subprocess.run([*args, str(exe)], stdin=f, capture_output=True, timeout=QEMU_TIMEOUT_S,
                              check=False)
    return done.stdout, done.returncode, log_path.read_bytes() if log else b""


@functools.cache
def _one_insn_per_tb_flag(qemu: str) -> str:
    """QEMU 8.1 renamed `-singlestep` (one instruction per translation block) to `-one-insn-per-tb`."""
    usage = subprocess.run([qemu, "-h"], capture_output=True, text=True, timeout=30, check=False).stdout
    return "-one-insn-per-tb" if "-one-insn-per-tb" in usage else "-singlestep"


def qemu_states(log: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(pcs, registers before each instruction) from a `-d cpu` log; registers shape (n, 32)."""
    pcs = np.array([int(x, 16) for x in _PC.findall(log)], dtype=np.int64)
    regs = np.array([int(x, 16) for x in _REG.findall(log)], dtype=np.int64)
    if regs.size != 32 * pcs.size:
        raise AssertionError(f"unexpected QEMU log: {pcs.size} pcs but {regs.size} register values")
    return pcs, regs.reshape(-1, 32)


def zkray_states(session: Session) -> tuple[np.ndarray, np.ndarray]:
    """(pcs, registers before each cycle) rebuilt from zkray's trace; registers start at zero."""
    tr = session.trace
    assert tr is not None
    n = len(tr)
    rd = tr.rd.astype(np.int64)
    val = tr.rd_val.astype(np.int64)
    regs = np.zeros((n, 32), dtype=np.int64)
    rows = np.arange(n)
    for r in range(1, 32):
        # The value of x_r before cycle i is the value written by the last cycle j < i with rd == r.
        last = np.where(rd == r, rows, -1)
        last = np.maximum.accumulate(last)
        before = np.concatenate([[-1], last[:-1]])
        regs[:, r] = np.where(before >= 0, val[np.maximum(before, 0)], 0)
    return tr.pc.astype(np.int64), regs


def assert_same_steps(session: Session, log: bytes) -> int:
    """Assert QEMU and zkray retire the same pcs with the same registers; returns the step count.

    QEMU starts sp at its own stack address and zkray at zero, so x2 is compared only once the guest
    has written it (every guest sets sp first).
    """
    qpcs, qregs = qemu_states(log)
    zpcs, zregs = zkray_states(session)
    assert len(qpcs) == len(zpcs), f"QEMU ran {len(qpcs)} instructions, zkray {len(zpcs)}"
    bad = np.nonzero(qpcs != zpcs)[0]
    if bad.size:
        i = bad[0]
        raise AssertionError(f"pc differs first at step {i}: QEMU {qpcs[i]:#x}, zkray {zpcs[i]:#x}")
    written = np.maximum.accumulate(session.trace.rd == 2)  # type: ignore[union-attr]
    sp_known = np.concatenate([[False], written[:-1]])
    mask = np.ones_like(qregs, dtype=bool)
    mask[:, 2] = sp_known
    diff = (qregs != zregs) & mask
    if diff.any():
        step, reg = np.argwhere(diff)[0]
        raise AssertionError(f"x{reg} differs before step {step} (pc {zpcs[step]:#x}): "
                             f"QEMU {qregs[step, reg]:#x}, zkray {zregs[step, reg]:#x}")
    return len(qpcs)
