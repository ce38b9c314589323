"""Benchmark the input fetcher over loopback trustless gateways (a figure, not a test).

    .venv/bin/python bench/bench_fetch.py [--mib 32] [--chunk-kib 256] [--runs 3]

Serves a UnixFS file built like `ipfs add` (raw leaves, 174 links per node) from three loopback
gateways: one honest, one serving corrupted blocks, one answering 500. Reports MiB/s for a single
honest gateway and for the race with the two bad ones, plus the hash-verification rate alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fetch"))

from fetch_blocks import unixfs_file
from fetch_gateway import LoopbackGateway
from multiformats import CID

from zkray.fetch import FetchConfig, InputFetcher, input_digest
from zkray.fetch.cids import verify_block


async def timed_fetch(gateways: list[LoopbackGateway], url: str, digest: bytes, size: int, runs: int) -> float:
    cfg = FetchConfig(gateways=tuple(g.url for g in gateways), max_bytes=size + 1)
    best = float("inf")
    async with InputFetcher(cfg) as fetcher:
        for _ in range(runs):
            start = time.perf_counter()
            data = await fetcher.fetch(url, expected_digest=digest)
            best = min(best, time.perf_counter() - start)
            assert len(data) == size
    return size / best / 2**20


async def main(mib: int, chunk_kib: int, runs: int) -> None:
    size = mib * 2**20
    data = os.urandom(size)
    dag = unixfs_file(data, chunk=chunk_kib * 1024, fanout=174)
    digest = input_digest(data)
    url = f"ipfs://{dag.root}"
    honest = await LoopbackGateway(dag.blocks).start()
    liar = await LoopbackGateway(dag.blocks, "wrong").start()
    broken = await LoopbackGateway(dag.blocks, "error500").start()
    try:
        single = await timed_fetch([honest], url, digest, size, runs)
        raced = await timed_fetch([liar, broken, honest], url, digest, size, runs)
    finally:
        for g in (honest, liar, broken):
            await g.stop()
    start = time.perf_counter()
    for key, block in dag.blocks.items():
        verify_block(CID.decode(key), block)
    verify = size / (time.perf_counter() - start) / 2**20
    print(f"file {mib} MiB, {len(dag.blocks)} blocks of {chunk_kib} KiB (best of {runs})")
    print(f"  one honest gateway:              {single:8.1f} MiB/s")
    print(f"  race honest + corrupt + HTTP 500: {raced:8.1f} MiB/s")
    print(f"  block verification alone:        {verify:8.1f} MiB/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=32)
    parser.add_argument("--chunk-kib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.mib, args.chunk_kib, args.runs))
