"""STARK prover/verifier benchmark over trace lengths, with the prover's time split.

Run:  .venv/bin/python bench/bench_stark.py [--min-log 10] [--max-log 20] [--repeat 1]

For each trace length 2^k of the `fib` AIR (36 columns) it prints prove and verify time, seal size, the
prover's phases (LDE, Merkle commitments, constraint evaluation, quotient, DEEP, FRI, queries) and the
ratio of total prove time to a bare LDE + Merkle commit of the same trace. A warm-up proof first loads
the compiled kernels, so compile time is not counted.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from zkray.zkvm import merkle, ntt
from zkray.zkvm import proof as proof_codec
from zkray.zkvm.guests import BUILTIN_GUESTS
from zkray.zkvm.params import DEFAULT_PARAMS
from zkray.zkvm.prover import SHIFT, ProverStats, prove
from zkray.zkvm.verifier import verify_seal


def bare_lde_commit(trace: np.ndarray) -> float:
    start = time.perf_counter()
    lde = ntt.coset_ntt(ntt.intt(trace), SHIFT, trace.shape[1] << DEFAULT_PARAMS.log_blowup)
    merkle.commit(lde.T)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--min-log", type=int, default=10)
    ap.add_argument("--max-log", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=1, help="best of N")
    args = ap.parse_args()
    guest = BUILTIN_GUESTS["fib"]
    air = guest.air
    warm_trace, warm_public, _ = guest.witness(guest.parse_input({"n": 1000}))
    prove(air, warm_trace, warm_public)

    phases = ["lde", "commit", "constraints", "quotient", "ood", "deep", "fri", "queries"]
    print(
        f"fib AIR, {air.main_width} columns, blowup {1 << DEFAULT_PARAMS.log_blowup}, "
        f"{DEFAULT_PARAMS.num_queries} queries, {DEFAULT_PARAMS.grinding_bits}-bit grinding"
    )
    head = f"{'rows':>6} {'prove s':>8} {'verify ms':>9} {'seal KB':>8} " + " ".join(f"{p:>11}" for p in phases)
    print(head + f" {'LDE+commit':>10} {'ratio':>6}")
    for log_n in range(args.min_log, args.max_log + 1):
        n_input = (1 << log_n) - 1
        trace, public, _ = guest.witness(guest.parse_input({"n": n_input}))
        best = None
        for _ in range(args.repeat):
            stats = ProverStats()
            start = time.perf_counter()
            proof = prove(air, trace, public, stats=stats)
            total = time.perf_counter() - start
            if best is None or total < best[0]:
                best = (total, stats, proof)
        total, stats, proof = best  # type: ignore[misc]
        seal = proof_codec.encode(proof)
        start = time.perf_counter()
        verify_seal(air, seal, public, DEFAULT_PARAMS)
        verify_ms = 1000 * (time.perf_counter() - start)
        bare = min(bare_lde_commit(trace) for _ in range(args.repeat))
        cells = " ".join(f"{stats.seconds.get(p, 0.0):>11.3f}" for p in phases)
        print(
            f"2^{log_n:<4} {total:>8.3f} {verify_ms:>9.1f} {len(seal) / 1024:>8.1f} {cells} "
            f"{bare:>10.3f} {total / bare:>6.2f}"
        )


if __name__ == "__main__":
    main()
