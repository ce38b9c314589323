"""Executor speed: instructions per second for each guest, preflight (no trace) and traced.

    .venv/bin/python bench/bench_executor.py            # the table in docs/executor.md
    .venv/bin/python bench/bench_executor.py --quick    # smaller inputs, for a smoke run

Each row runs the guest once to warm up (numba compiles or loads its cache), then times whole
`execute` calls (ELF load, memory set-up, image id and the run itself) for at least half a second.
Rates are per second of this process's CPU time (user + system; the executor is single-threaded),
so other jobs sharing the machine do not distort them; the wall-clock rate is printed beside.
"""

from __future__ import annotations

import argparse
import random
import struct
import time
from pathlib import Path

from zkray.zkvm.elf import load_elf
from zkray.zkvm.rv32im import execute

GUEST = Path(__file__).resolve().parents[1] / "guest"


def inputs(scale: int) -> dict[str, bytes]:
    rng = random.Random(0)
    return {
        "fib": struct.pack("<I", 1_000_000 // scale),
        "fib_input_initial": struct.pack("<3I", 1_000_000 // scale, 3, 5),
        "sha256": rng.randbytes(128 * 1024 // scale),
        "sort": struct.pack(f"<{20_000 // scale}I", *(rng.getrandbits(32) for _ in range(20_000 // scale))),
        "rv32im_all": struct.pack("<2I", 0x8000_0000, 0xFFFF_FFFF),
    }


def measure(name: str, data: bytes, trace: bool) -> tuple[int, float, float]:
    """(cycles per run, instructions per CPU second, per wall second) over runs of at least 0.5 s."""
    elf = (GUEST / f"{name}.elf").read_bytes()
    cycles = execute(elf, data, trace=trace).cycles  # warm-up
    runs, cpu, wall = 0, time.process_time(), time.perf_counter()
    while runs < 1 or time.process_time() - cpu < 0.5:
        execute(elf, data, trace=trace)
        runs += 1
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cycles, cycles * runs / cpu, cycles * runs / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="inputs 10x smaller")
    args = parser.parse_args()
    load_elf((GUEST / "fib.elf").read_bytes())
    print(f"{'guest':<18} {'cycles':>11}  {'preflight instr/s (wall)':>24}  {'traced instr/s (wall)':>22}")
    for name, data in inputs(10 if args.quick else 1).items():
        cycles, plain, plain_wall = measure(name, data, trace=False)
        _, traced, traced_wall = measure(name, data, trace=True)
        print(
            f"{name:<18} {cycles:>11,}  {plain / 1e6:>12.1f} M ({plain_wall / 1e6:>6.1f} M)"
            f"  {traced / 1e6:>10.1f} M ({traced_wall / 1e6:>6.1f} M)"
        )


if __name__ == "__main__":
    main()
