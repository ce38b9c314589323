"""Figures for docs/api.md: status-polling throughput, and a session's latency over proving directly.

    python -m zkray.api.bench [--requests 4000] [--concurrency 16] [--repeats 5]

The server runs in a child process (its own interpreter, as in production) on a loopback port; the
client side runs here. Latency compares `zkray.prove` in this process with the API sequence (upload
input, create session, poll, download, verify) for the same input, and reports the API's overhead as
the sequence's time less the server's own session time, so machine load does not blur it.
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
from zkray.api.bonsai_client import BonsaiClient, PollPolicy, verify_remote_receipt
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


async def latency(url: str, n: int, repeats: int, poll: PollPolicy) -> dict[str, float]:
    """Medians in seconds: proving here, the whole API sequence, and that sequence less the server's own
    session time (`elapsed_time`), which is the API's overhead measured within one run, whatever the load."""
    data = struct.pack("<I", n)
    fib = zkray.guests()["fib"]
    zkray.prove("fib", data)  # warm the compiled kernels here too
    direct, total, overhead = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        zkray.prove("fib", data)
        direct.append(time.perf_counter() - t)
    async with BonsaiClient(url, KEY, poll=poll) as c:
        await c.prove(fib, data, timeout=600)
        for _ in range(repeats):
            t = time.perf_counter()
            session_id = await c.create_session(fib.hex(), await c.upload_input(data))
            status = await c.wait(session_id, 600)
            assert status.status == "SUCCEEDED" and status.receipt_url, status
            await asyncio.to_thread(verify_remote_receipt, await c.download(status.receipt_url), fib, data)
            total.append(time.perf_counter() - t)
            overhead.append(total[-1] - (status.elapsed_time or 0.0))
    return {"direct": statistics.median(direct), "api": statistics.median(total),
            "overhead": statistics.median(overhead)}


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
                m = asyncio.run(latency(url, n, args.repeats, poll))
                print(f"fib n={n:>5} {label}: direct {m['direct'] * 1e3:7.1f} ms, via API {m['api'] * 1e3:7.1f} ms, "
                      f"API overhead (total - server session time) {m['overhead'] * 1e3:6.1f} ms")
    finally:
        stop.set()
        server.join(timeout=30)
        if server.is_alive():
            server.kill()


if __name__ == "__main__":
    main()
