"""Benchmarks of the chain adapter against a local anvil (figures for docs/chain.md, not tests).

- transactions per second through one nonce manager (TxManager, and the Ray actor with --ray);
- event latency from a mined block to the handler, p50/p99, over WebSocket and by polling.

    .venv/bin/python bench/bench_chain.py [--txs 500] [--samples 200] [--ray]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import queue
import random
import statistics
import threading
import time
from typing import Any

from web3 import AsyncHTTPProvider, AsyncWeb3, Web3

from zkray.chain.artifacts import abi
from zkray.chain.devnet import Devnet
from zkray.chain.events import Cursor, EventStream
from zkray.chain.txmanager import TxCall, TxManager


async def tx_throughput(devnet: Devnet, n: int) -> dict[str, Any]:
    assert devnet.roles is not None
    sender, sink = devnet.roles.spare[0], devnet.roles.spare[1].address
    w3 = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url))
    async with TxManager(w3, sender.key) as tx:
        await tx.send(TxCall(to=sink, value=1, gas=21_000))  # warm up connections and the fee cache
        start = time.perf_counter()
        await asyncio.gather(*(tx.send(TxCall(to=sink, value=1, gas=21_000)) for _ in range(n)))
        elapsed = time.perf_counter() - start
        stats = dict(tx.stats)
    await w3.provider.disconnect()
    return {"txs": n, "seconds": round(elapsed, 3), "tx_per_s": round(n / elapsed, 1), "stats": stats}


def ray_throughput(devnet: Devnet, n: int) -> dict[str, Any]:
    import ray

    from actors.nonce_manager import start_nonce_manager

    assert devnet.roles is not None
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        sender, sink = devnet.roles.spare[2], devnet.roles.spare[3].address
        manager = start_nonce_manager(devnet.rpc_url, sender.key)
        ray.get(manager.send_once.remote(TxCall(to=sink, value=1, gas=21_000)))
        start = time.perf_counter()
        ray.get([manager.send_once.remote(TxCall(to=sink, value=1, gas=21_000)) for _ in range(n)])
        elapsed = time.perf_counter() - start
    finally:
        ray.shutdown()
    return {"txs": n, "seconds": round(elapsed, 3), "tx_per_s": round(n / elapsed, 1)}


def event_latency(devnet: Devnet, samples: int, ws: bool, poll_s: float) -> dict[str, Any]:
    """Mine one block holding one ExecutionRequested at a time; latency = handler time - evm_mine start."""
    assert devnet.deployment is not None and devnet.roles is not None
    arrivals: queue.Queue[float] = queue.Queue()
    stop = threading.Event()
    head = devnet.block_number()

    def consume() -> None:
        async def main() -> None:
            assert devnet.deployment is not None
            stream = EventStream(
                devnet.rpc_url,
                devnet.deployment.engine,
                ws_url=devnet.ws_url if ws else None,
                after=Cursor.before_block(head + 1),
                names={"ExecutionRequested"},
                poll_s=poll_s,
            )
            halt = asyncio.Event()

            async def watch() -> None:
                while not stop.is_set():
                    await asyncio.sleep(0.05)
                halt.set()

            watcher = asyncio.create_task(watch())
            async for _ in stream.events(halt):
                arrivals.put(time.perf_counter())
            await watcher

        asyncio.run(main())

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    time.sleep(1.0)  # let the stream connect and subscribe
    engine = Web3().eth.contract(address=devnet.deployment.engine, abi=abi("ExecutionEngine"))
    image_id = bytes.fromhex(next(iter(devnet.deployment.guests.values()))[2:])
    requester = devnet.roles.requesters[0].address
    devnet.rpc("evm_setAutomine", False)
    latencies = []
    rng = random.Random(7)
    try:
        for i in range(samples):
            data = engine.encode_abi("requestExecution", [image_id, i.to_bytes(32, "big"), "", "0x" + "00" * 20, 0])
            tx = {"from": requester, "to": devnet.deployment.engine, "data": data, "value": hex(10**15)}
            devnet.rpc("eth_sendTransaction", tx)  # anvil signs for its unlocked accounts
            time.sleep(rng.uniform(0, poll_s))  # do not mine in step with the poll cycle
            mined_at = time.perf_counter()
            devnet.rpc("evm_mine")
            latencies.append((arrivals.get(timeout=30) - mined_at) * 1000)
    finally:
        stop.set()
        thread.join(timeout=10)
        devnet.rpc("evm_setAutomine", True)
    latencies.sort()
    return {
        "mode": "websocket" if ws else f"polling every {poll_s * 1000:.0f} ms",
        "samples": samples,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "max_ms": round(latencies[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--txs", type=int, default=500)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--poll-s", type=float, default=0.1)
    parser.add_argument("--ray", action="store_true", help="also measure through the Ray actor")
    args = parser.parse_args()
    with Devnet() as devnet:
        print(json.dumps({"nonce_manager": asyncio.run(tx_throughput(devnet, args.txs))}))
        if args.ray:
            print(json.dumps({"nonce_manager_actor": ray_throughput(devnet, args.txs)}))
        print(json.dumps({"event_latency": event_latency(devnet, args.samples, ws=True, poll_s=args.poll_s)}))
        print(json.dumps({"event_latency": event_latency(devnet, args.samples, ws=False, poll_s=args.poll_s)}))


if __name__ == "__main__":
    main()
