"""ELF proving through the pool vs in-process: one composite receipt made segment after segment
(`prove_elf`) and the same job fanned out as Ray tasks, one per segment, plus the join.

    .venv/bin/python tests/node/bench_elf_pool.py [--guest sha256 --input-bytes 100] [--cpus 2] [--runs 2]

Prints cycles, segments, and the median wall time of each way (interleaved, so load drifts hit both)."""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import ray

from zkray.node.config import ProvingConfig
from zkray.node.proving import ProveRequest, ProvingPool
from zkray.node.proving.runtime import RayRuntime
from zkray.zkvm.continuation import prove_elf
from zkray.zkvm.receipt import Receipt
from zkray.zkvm.rv32im.segment import plan_segments

GUEST = Path(__file__).resolve().parents[2] / "guest"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guest", default="sha256")
    parser.add_argument("--input-bytes", type=int, default=100)
    parser.add_argument("--segment-cycles", type=int, default=1 << 13)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    elf = (GUEST / f"{args.guest}.elf").read_bytes()
    data = bytes(range(256)) * (args.input_bytes // 256) + bytes(range(args.input_bytes % 256))
    plan = plan_segments(elf, data, segment_cycles=args.segment_cycles)
    print(f"{args.guest}: {plan.cycles} cycles, {plan.segments} segments of {args.segment_cycles}")
    ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    pool = ProvingPool(RayRuntime(), ProvingConfig(max_concurrent=args.cpus, task_timeout_s=3000.0))
    elf_ref = ray.put(elf)
    direct, fanned = [], []
    for run in range(args.runs):
        start = time.perf_counter()
        prove_elf(elf, data, segment_cycles=args.segment_cycles).verify(program=elf)
        direct.append(time.perf_counter() - start)
        request = ProveRequest(f"bench-{run}", elf_ref, data, kind="elf", image_id=plan.image_id,
                               segments=plan.segments, segment_cycles=args.segment_cycles)  # fmt: skip
        start = time.perf_counter()
        outcome = pool.run([request], deadline_s=3000.0)[request.job_id]
        fanned.append(time.perf_counter() - start)
        assert outcome.receipt is not None, outcome.error
        Receipt.decode(outcome.receipt).verify(plan.image_id, program=elf)
    print(f"in-process, segment after segment (prove + verify): {statistics.median(direct):.1f} s {direct}")
    print(f"pool, one Ray task per segment + join (verifies inside): {statistics.median(fanned):.1f} s {fanned}")
    ray.shutdown()


if __name__ == "__main__":
    main()
