"""Figures for docs/api.md: status-polling throughput, and a session's latency over proving directly.

    python -m zkray.api.bench [--requests 4000] [--concurrency 16] [--repeats 5]

The server runs in a child process (its own interpreter, as in production) on a loopback port; the
client side runs here. Latency compares `zkray.prove` in this process with `BonsaiClient.prove`
(upload input, create session, poll, download, verify) for the same input.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import struct
import time
from typing import Any

import aiohttp

import zkray
from zkray.api.bonsai_client import BonsaiClient, PollPolicy
from zkray.api.bonsai_server import create_app, start
from zkray.api.config import ApiConfig
from zkray.api.local_service import LocalProvingService

KEY = "bench-key-0123456789abcdef"


def _serve(port_out: Any, stop: Any) -> None:
    async def main() -> None:
        service = LocalProvingService(max_concurrent=1)
        cfg = ApiConfig.parse({"keys": [{"name": "bench", "key": KEY, "rate_per_s": 1e6, "burst": 1e6,
                                         "concurrent_proofs": 64}]})
        runner, url = await start(create_app(service, cfg))
        port_out.put(url)
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await runner.cleanup()
        await service.close()

    asyncio.run(main())


async def polling_rps(url: str, requests: int, concurrency: int) -> float:
    async with BonsaiClient(url, KEY) as c:
        session_id = (await c.execute(zkray.guests()["fib"], struct.pack("<I", 10), timeout=60)).session_id
    headers = {"x-api-key": KEY, "x-risc0-version": "bench"}
    per_worker = requests // concurrency
    async with aiohttp.ClientSession() as http:
        async def worker() -> None:
            for _ in range(per_worker):
                async with http.get(f"{url}/sessions/status/{session_id}", headers=headers) as r:
                    await r.read()
                    assert r.status == 200, r.status

        start_t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return per_worker * concurrency / (time.perf_counter() - start_t)


async def latency(url: str, n: int, repeats: int, poll: PollPolicy) -> tuple[float, float]:
    """Median seconds: proving directly, and through the API."""
    data = struct.pack("<I", n)
    zkray.prove("fib", data)  # warm the compiled kernels here too
    direct = []
    for _ in range(repeats):
        t = time.perf_counter()
        zkray.prove("fib", data)
        direct.append(time.perf_counter() - t)
    remote = []
    async with BonsaiClient(url, KEY, poll=poll) as c:
        await c.prove(zkray.guests()["fib"], data, timeout=600)
        for _ in range(repeats):
            t = time.perf_counter()
            await c.prove(zkray.guests()["fib"], data, timeout=600)
            remote.append(time.perf_counter() - t)
    return statistics.median(direct), statistics.median(remote)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    port_out, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(port_out, stop), daemon=True)
    server.start()
    try:
        url = port_out.get(timeout=120)
        rps = asyncio.run(polling_rps(url, args.requests, args.concurrency))
        print(f"status polling: {rps:,.0f} requests/s ({args.requests} requests, {args.concurrency} concurrent)")
        for label, poll in (("default polling", PollPolicy()), ("10 ms polling", PollPolicy(0.01, 0.01))):
            for n in (10, 1000, 4096):
                direct, remote = asyncio.run(latency(url, n, args.repeats, poll))
                print(f"fib n={n:>5} {label}: direct {direct * 1e3:7.1f} ms, via API {remote * 1e3:7.1f} ms, "
                      f"overhead {(remote - direct) * 1e3:+6.1f} ms")
    finally:
        stop.set()
        server.join(timeout=30)
        if server.is_alive():
            server.kill()


if __name__ == "__main__":
    main()
