"""Figures for docs/frontdoors.md: the node's Bonsai API over its Ray proving pool.

    .venv/bin/python tests/frontdoors/bench_frontdoors.py [--requests 4000] [--concurrency 16] [--repeats 5]

Starts its own local Ray (`address="local"`), a `ProverService` over a `ProvingPool` (CPU backend, no
proof cache, so every session is really proved) and the API on a loopback port, all in this process, as
in `zkray serve --api-port`. It measures status polling (GET /sessions/status, concurrent clients) and,
per input size, the median of: `zkray.prove` in this process; the same proof as a Ray task through the
pool (`ProverService.prove`, what a chain job costs); and the whole API sequence (upload input, create,
poll, download, verify). "API overhead" is the sequence less the server's own session time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import struct
import time

import ray

import zkray
from zkray.api import ApiConfig, BonsaiClient, PollPolicy, create_app, start, verify_remote_receipt
from zkray.api.bench import polling_rps
from zkray.node.config import ProvingConfig
from zkray.node.prover import ProverService
from zkray.node.proving import ProveRequest, ProvingPool
from zkray.node.proving.runtime import RayRuntime
from zkray.node.ray_service import RayProvingService
from zkray.policy.degradation import ProverBackend

KEY = "bench-key-0123456789abcdef"
FIB = zkray.guests()["fib"]


async def pool_prove(prover: ProverService, job: str, data: bytes) -> float:
    t = time.perf_counter()
    await prover.prove(ProveRequest(job, "fib", data), image_id="0x" + FIB.hex(),
                       input_digest="0x" + hashlib.sha256(data).hexdigest(), cycles=1)  # fmt: skip
    return time.perf_counter() - t


async def run(args: argparse.Namespace) -> None:
    pool = ProvingPool(RayRuntime(), ProvingConfig(backends=(ProverBackend.CPU,), max_concurrent=2))
    prover = ProverService(pool, None, 1000.0)
    stop = asyncio.Event()
    loop_task = asyncio.create_task(prover.run(stop))
    service = RayProvingService(prover, max_concurrent=2)
    cfg = ApiConfig.parse({"keys": [{"name": "bench", "key": KEY, "rate_per_s": 1e6, "burst": 1e6,
                                     "concurrent_proofs": 64}]})  # fmt: skip
    runner, url = await start(create_app(service, cfg))
    try:
        rps = await polling_rps(url, args.requests, args.concurrency)
        print(f"status polling: {rps:,.0f} requests/s ({args.requests} requests, {args.concurrency} concurrent, "
              "client and server in one process)")  # fmt: skip
        for label, poll in (("default polling", PollPolicy()), ("10 ms polling", PollPolicy(0.01, 0.01))):
            for n in (10, 1000, 4096):
                direct, ray_task, api, overhead = [], [], [], []
                data = struct.pack("<I", n)
                await asyncio.to_thread(zkray.prove, "fib", data)  # warm this process
                await pool_prove(prover, f"warm-{label}-{n}", data)  # warm a worker
                async with BonsaiClient(url, KEY, poll=poll) as c:
                    for i in range(args.repeats):
                        t = time.perf_counter()
                        await asyncio.to_thread(zkray.prove, "fib", data)
                        direct.append(time.perf_counter() - t)
                        ray_task.append(await pool_prove(prover, f"bench-{label}-{n}-{i}", data))
                        t = time.perf_counter()
                        sid = await c.create_session(FIB.hex(), await c.upload_input(data))
                        status = await c.wait(sid, 600)
                        assert status.status == "SUCCEEDED" and status.receipt_url, status
                        await asyncio.to_thread(verify_remote_receipt, await c.download(status.receipt_url), FIB, data)
                        api.append(time.perf_counter() - t)
                        overhead.append(api[-1] - (status.elapsed_time or 0.0))
                med = {k: statistics.median(v) * 1e3 for k, v in
                       (("direct", direct), ("ray", ray_task), ("api", api), ("overhead", overhead))}  # fmt: skip
                print(f"fib n={n:>5} {label}: in-process {med['direct']:7.1f} ms, Ray task {med['ray']:7.1f} ms, "
                      f"via API {med['api']:7.1f} ms, API overhead {med['overhead']:6.1f} ms")  # fmt: skip
    finally:
        await service.close()
        await runner.cleanup()
        stop.set()
        await loop_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        asyncio.run(run(args))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
