"""`python -m zkray.orchestrator {orchestrate,work,anonymous}`: either side of orchestrator mode, by hand.

    orchestrate --port 8080 --demo-tasks 20      serve demo tasks until interrupted (or, with
                                                 --exit-when-done, until every task has a proof)
    work http://127.0.0.1:8080                   a pull worker, until interrupted or out of tasks
    anonymous --max-proofs 3                     prove the demo locally, no network

SIGINT and SIGTERM stop each gracefully. `main(argv)` is what `zkray serve --orchestrator` can call.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import struct
import sys
from pathlib import Path

from zkray.orchestrator.anonymous import run_anonymous
from zkray.orchestrator.config import ServerConfig, WorkerConfig
from zkray.orchestrator.errors import OrchestratorError
from zkray.orchestrator.keys import DEFAULT_KEY_FILE
from zkray.orchestrator.server import OrchestratorServer
from zkray.orchestrator.taskbook import TaskStatus
from zkray.orchestrator.worker import PullWorker


def _cancel_on_signals() -> asyncio.Event:
    cancel = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, cancel.set)
    return cancel


def demo_tasks(count: int) -> list[tuple[str, bytes]]:
    """Alternating fast-fib and fib_input_initial tasks with varied inputs."""
    out = []
    for i in range(count):
        if i % 2:
            out.append(("fib_input_initial", struct.pack("<III", 10 + i % 30, i % 7, 1 + i % 5)))
        else:
            out.append(("fast-fib", struct.pack("<I", 10 + i % 40)))
    return out


async def _orchestrate(args: argparse.Namespace) -> int:
    server = OrchestratorServer(ServerConfig(max_batch=args.max_batch, poll_rate=args.poll_rate))
    for program_id, inputs in demo_tasks(args.demo_tasks):
        server.add_task(program_id, inputs)
    cancel = _cancel_on_signals()
    url = await server.start(args.host, args.port)
    print(f"orchestrator listening on {url} with {len(server.book)} tasks", flush=True)
    try:
        while not cancel.is_set():
            if args.exit_when_done and server.counts()[TaskStatus.DONE] == len(server.book):
                break
            try:
                await asyncio.wait_for(cancel.wait(), 0.2)
            except TimeoutError:
                pass
    finally:
        await server.stop()
    counts = {status.value: n for status, n in server.counts().items()}
    print(f"orchestrator stopped: tasks {counts}, {dict(server.counters)}", flush=True)
    return 0


async def _work(args: argparse.Namespace) -> int:
    config = WorkerConfig(
        orchestrator_url=args.url, node_id=args.node_id, key_file=args.key_file, batch_size=args.batch_size,
        provers=args.provers, max_404s=args.max_404s, backoff_initial_s=args.backoff_s,
    )  # fmt: skip
    worker = PullWorker(config)
    print(f"worker {worker.node_id} (public key {worker.key.public_hex}) pulling from {config.orchestrator_url}",
          flush=True)  # fmt: skip
    stats = await worker.run(_cancel_on_signals())
    print(f"worker stopped: {stats}", flush=True)
    return 0


async def _anonymous(args: argparse.Namespace) -> int:
    stats = await run_anonymous(_cancel_on_signals(), interval_s=args.interval_s, max_proofs=args.max_proofs)
    print(f"anonymous mode: {stats.proofs_generated} proofs verified, mean {stats.mean_prove_seconds:.2f} s",
          flush=True)  # fmt: skip
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m zkray.orchestrator", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    o = sub.add_parser("orchestrate", help="serve tasks and judge submissions")
    o.add_argument("--host", default="127.0.0.1")
    o.add_argument("--port", type=int, default=8080, help="0: an ephemeral port (printed)")
    o.add_argument("--demo-tasks", type=int, default=20)
    o.add_argument("--max-batch", type=int, default=50)
    o.add_argument("--poll-rate", type=float, default=2.0, help="task requests per second per node")
    o.add_argument("--exit-when-done", action="store_true")
    w = sub.add_parser("work", help="run a pull worker")
    w.add_argument("url")
    w.add_argument("--node-id", default="")
    w.add_argument("--key-file", type=Path, default=DEFAULT_KEY_FILE)
    w.add_argument("--batch-size", type=int, default=10)
    w.add_argument("--provers", type=int, default=1)
    w.add_argument("--max-404s", type=int, default=3)
    w.add_argument("--backoff-s", type=float, default=30.0, help="first backoff; doubles per failure")
    a = sub.add_parser("anonymous", help="prove the demo locally, no network")
    a.add_argument("--max-proofs", type=int, default=None)
    a.add_argument("--interval-s", type=float, default=0.3)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run = {"orchestrate": _orchestrate, "work": _work, "anonymous": _anonymous}[args.command]
    try:
        return asyncio.run(run(args))
    except (OrchestratorError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
