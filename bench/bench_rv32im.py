"""RV32IM zkVM proving benchmark: one segment of `loop(n)` per size, with the prover's time split.

Run:  .venv/bin/python bench/bench_rv32im.py [--min-log 12] [--max-log 16] [--repeat 1] [--check]
                                             [--executions [--segment-log 16]]

For each size 2^k (k = min-log … 18) it executes `loop(n)` (tests/zkvm/test_rv32im_air_programs.py: ADDI,
XOR, SLLI, MUL, DIVU, SW, LW, ADD, BNE per iteration) for longer than 2^k cycles and proves its first
segment of 2^k cycles (a full CPU trace, ending mid-run as the node's segments do), then
prints: cycles, CPU rows, execution + witness generation seconds,
`prove_multi` seconds (wall, and CPU seconds of all threads: on a shared machine the wall time of a
2-thread prover swings with the load, its CPU time much less) and its phases (commit, aux, quotient,
ood, fri, queries), proving speed in kHz
(cycles / prove_multi s, and cycles / everything incl. execution and witness), verify ms and seal KiB.

Sizes are marked instead of run when the verifier would refuse them (the multi-STARK's security check,
below 100 bits: 2^18 cycles today) or when k > --max-log (they take minutes on the 2-core machine). The
debug checker (`check=True`, prove_elf's default) is off unless --check: it re-evaluates every constraint
on the trace, a development aid that is no part of the proof. A warm-up proof loads the compiled kernels
first, so JIT compilation is not counted. Prints the load average, since the machine is shared.

With --executions a second table proves whole executions of ~2^k cycles (k = min-log … max-log, up to
2^18 and beyond) the way `zkray.prove` does: in segments of 2^segment-log cycles, one after another on
this machine (a cluster proves them in parallel), and verifies the composite receipt.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "zkvm"))

import numpy as np
from test_rv32im_air_programs import loop

import zkray
from zkray.zkvm.multi import PublicTuple, encode, prove_multi, verify_multi
from zkray.zkvm.multi.protocol import security_bits
from zkray.zkvm.params import DEFAULT_PARAMS, MIN_SECURITY_BITS
from zkray.zkvm.prover import ProverStats
from zkray.zkvm.rv32im.executor import execute, load
from zkray.zkvm.rv32im.segment import execute_segment
from zkray.zkvm.rv32im_air.segment import SEGMENT_CHIPS as CHIPS
from zkray.zkvm.rv32im_air.segment import claim_of, public_inputs, public_tuples
from zkray.zkvm.rv32im_air.witness import generate

PHASES = ("commit", "aux", "quotient", "ood", "fri", "queries")
PER_ITERATION = 9  # loop(n) runs 8 + 9·n cycles


def iterations_for(log_rows: int) -> int:
    """An n whose run is longer than 2^log_rows cycles, so its first segment is a full, non-halting one."""
    return (1 << log_rows) // PER_ITERATION + 2


def statement(log_rows: int) -> tuple[int, list[np.ndarray], list[int], list[PublicTuple], float]:
    """(cycles, traces, public inputs, public tuples, seconds of execution + witness) for the first segment
    of 2^log_rows cycles of loop(n): exactly 2^log_rows cycles (a full CPU trace), as the node proves them."""
    t0 = time.perf_counter()
    program = load(loop(iterations_for(log_rows)))
    run = execute_segment(program, b"", 0, segment_cycles=1 << log_rows)
    claim = claim_of(run)
    traces = generate(program, run)
    witness_s = time.perf_counter() - t0
    return run.cycles, traces, public_inputs(claim), public_tuples(program, claim), witness_s


def measure(log_rows: int, repeat: int, check: bool) -> str:
    cycles, traces, pub, tuples, witness_s = statement(log_rows)
    cpu_rows = traces[CHIPS.index(next(c for c in CHIPS if c.name == "rv32im-cpu"))].shape[1]
    log_ns = [t.shape[1].bit_length() - 1 for t in traces]
    bits = security_bits(DEFAULT_PARAMS, CHIPS, log_ns, len(tuples))
    head = f"| {cycles:>7,} | 2^{cpu_rows.bit_length() - 1:<2} |"
    if bits < MIN_SECURITY_BITS:
        return head + f" refused by the verifier: {bits:.1f} bits < {MIN_SECURITY_BITS} |"
    best: tuple[float, ProverStats, object, float] | None = None
    for _ in range(repeat):
        stats = ProverStats()
        start, cpu = time.perf_counter(), time.process_time()
        proof = prove_multi(CHIPS, traces, pub, public_tuples=tuples, check=check, stats=stats)
        took = time.perf_counter() - start
        if best is None or took < best[0]:
            best = (took, stats, proof, time.process_time() - cpu)
    assert best is not None
    prove_s, stats, proof, cpu_s = best
    start = time.perf_counter()
    verify_multi(CHIPS, proof, pub, public_tuples=tuples)  # type: ignore[arg-type]
    verify_ms = 1000 * (time.perf_counter() - start)
    kib = len(encode(proof)) / 1024  # type: ignore[arg-type]
    phases = " / ".join(f"{stats.seconds.get(p, 0.0):.2f}" for p in PHASES)
    return (head + f" {witness_s:6.2f} | {prove_s:6.2f} | {cpu_s:6.2f} | {cycles / prove_s / 1000:5.2f} | "
            f"{cycles / (prove_s + witness_s) / 1000:5.2f} | {verify_ms:5.0f} | {kib:5.0f} | {bits:.1f} | "
            f"{phases} |")


def measure_execution(log_cycles: int, segment_log: int) -> str:
    """A whole execution of ~2^log_cycles cycles proven the way a node without parallelism would: every
    segment of 2^segment_log cycles in turn (`zkray.prove`: re-execution, witness, debug check, Merkle
    witness, STARK), then the composite receipt verified (`zkray.verify`)."""
    elf = loop(((1 << log_cycles) - 8) // PER_ITERATION)
    session = execute(elf, b"", trace=False)
    start = time.perf_counter()
    receipt = zkray.prove(elf, b"", segment_cycles=1 << segment_log)
    prove_s = time.perf_counter() - start
    start = time.perf_counter()
    zkray.verify(receipt, program=elf, exit_code=session.exit_code, input=b"")  # loop(n) exits with its sum
    verify_ms = 1000 * (time.perf_counter() - start)
    segments = -(-session.cycles // (1 << segment_log))
    return (f"| {session.cycles:>7,} | {segments} × 2^{segment_log} | {prove_s:6.2f} | "
            f"{session.cycles / prove_s / 1000:5.2f} | {verify_ms:5.0f} | {len(receipt.encode()) / 1024:6.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--min-log", type=int, default=12)
    ap.add_argument("--max-log", type=int, default=16, help="larger sizes (up to 2^18) are listed but not run")
    ap.add_argument("--repeat", type=int, default=1, help="best of N proofs per size")
    ap.add_argument("--check", action="store_true", help="run the debug checker inside prove_multi (slower)")
    ap.add_argument("--executions", action="store_true",
                    help="also prove whole executions of 2^min-log … 2^max-log cycles in segments (zkray.prove)")
    ap.add_argument("--segment-log", type=int, default=16, help="segment size for --executions (2^N cycles)")
    args = ap.parse_args()
    _, traces, pub, tuples, _ = statement(6)
    prove_multi(CHIPS, traces, pub, public_tuples=tuples, check=args.check)  # warm-up: JIT compilation
    print(f"loop(n), {len(CHIPS)} chips, check={args.check}, load average {os.getloadavg()[0]:.2f} "
          f"(1 min) at start, best of {args.repeat}")
    print("| cycles | CPU rows | exec+witness s | prove s | prove CPU s | kHz (prove) | kHz (all) | verify ms | "
          "seal KiB | bits | " + " / ".join(PHASES) + " s |")
    print("| --- " * 11 + "|")
    for log_rows in range(args.min_log, 19):
        if log_rows > args.max_log:
            print(f"| {1 << log_rows:>7,} | 2^{log_rows:<2} | not run (> --max-log {args.max_log}) |")
            continue
        print(measure(log_rows, args.repeat, args.check), flush=True)
    if args.executions:
        print(f"\nwhole executions of ~2^k cycles in segments of 2^{args.segment_log}, proven one after another; "
              f"load average {os.getloadavg()[0]:.2f}")
        print("| cycles | segments | prove s | kHz | verify ms | receipt KiB |")
        print("| --- " * 6 + "|")
        for log_cycles in range(args.min_log, args.max_log + 1):
            print(measure_execution(log_cycles, args.segment_log), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) at the end")


if __name__ == "__main__":
    main()
