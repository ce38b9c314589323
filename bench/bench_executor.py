"""Executor speed: instructions per second for each guest, preflight (no trace) and traced.

    .venv/bin/python bench/bench_executor.py            # the table in docs/executor.md
    .venv/bin/python bench/bench_executor.py --quick    # smaller inputs, for a smoke run

Each row runs the guest once to warm up (numba compiles or loads its cache), then times whole
`execute` calls (ELF load, memory set-up, image id and the run itself) for at least half a second.
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


def measure(name: str, data: bytes, trace: bool) -> tuple[int, float]:
    """(cycles per run, instructions per second) over repeated runs of at least 0.5 s."""
    elf = (GUEST / f"{name}.elf").read_bytes()
    cycles = execute(elf, data, trace=trace).cycles  # warm-up
    runs, start = 0, time.perf_counter()
    while runs < 1 or time.perf_counter() - start < 0.5:
        execute(elf, data, trace=trace)
        runs += 1
    elapsed = time.perf_counter() - start
    return cycles, cycles * runs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="inputs 10x smaller")
    args = parser.parse_args()
    load_elf((GUEST / "fib.elf").read_bytes())
    print(f"{'guest':<18} {'cycles':>11} {'preflight instr/s':>18} {'traced instr/s':>15}")
    for name, data in inputs(10 if args.quick else 1).items():
        cycles, plain = measure(name, data, trace=False)
        _, traced = measure(name, data, trace=True)
        print(f"{name:<18} {cycles:>11,} {plain / 1e6:>16.1f} M {traced / 1e6:>13.1f} M")


if __name__ == "__main__":
    main()
