"""`python -m zkray.serve` (also `zkray serve`): run the prover node.

With no configuration it is the embedded default: local Ray, a devnet with the contracts, a demo
requester posting jobs for the built-in guests, and the node proving and earning, with live progress.
Against a real network: `--rpc-url URL [--ws-url URL] --engine ADDR --key-file prover.key
--attester-key-file a.key ...`. Ctrl-C drains in-flight work and exits; a second Ctrl-C exits at once
(the journal keeps every claimed or proved job for the next start).

    python -m zkray.serve                                  # embedded demo, until Ctrl-C
    python -m zkray.serve --jobs 20 --exit-when-done       # bounded (CI): exit 0 when all 20 are paid
    python -m zkray.serve --config node.toml               # file < ZKRAY_* environment < flags
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from zkray.node.frontdoors import front_flags
from zkray.node.settings import NodeSettings, load_settings

PROVER_KEY_ENV = "ZKRAY_PROVER_KEY"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zkray serve", description="Run the zkray prover node.")
    p.add_argument("--config", type=Path, help="settings file (.toml or .json)")
    p.add_argument("--rpc-url", help="chain JSON-RPC URL (default: start an embedded devnet)")
    p.add_argument("--ws-url", help="chain WebSocket URL for events (default: poll the RPC)")
    p.add_argument("--engine", help="ExecutionEngine address (with --rpc-url)")
    p.add_argument("--key-file", type=Path, help=f"prover key file (default: ${PROVER_KEY_ENV})")
    p.add_argument("--attester-key-file", type=Path, action="append", dest="attester_key_files",
                   help="an attester key this node signs with (repeat for several)")  # fmt: skip
    p.add_argument("--data-dir", type=Path, help="journal and proof cache directory (default .zkray)")
    p.add_argument("--ray-address", help="Ray cluster address (default: local Ray)")
    p.add_argument("--jobs", type=int, help="demo: post this many jobs, then stop posting")
    p.add_argument("--interval", type=float, dest="demo_interval", help="demo: seconds between jobs")
    p.add_argument("--exit-when-done", action="store_true", default=None, help="exit once every job is settled")
    p.add_argument("--timeout", type=float, default=None, help="stop after this many seconds (exit 1 if not done)")
    p.add_argument("--no-progress", action="store_false", dest="progress", default=None, help="no live table")
    p.add_argument("--max-in-flight", type=int, dest="max_jobs_in_flight", help="jobs in flight at once")
    # front doors (docs/frontdoors.md)
    p.add_argument("--host", help="address the HTTP ports bind (default 127.0.0.1)")
    p.add_argument("--status-port", type=int, metavar="PORT", help="metrics, probes, dashboard (0: any free port)")
    p.add_argument("--api-port", type=int, metavar="PORT", help="Bonsai-compatible API (keys: --api-keys-file)")
    p.add_argument("--api-keys-file", type=Path, dest="api_config_file", metavar="FILE", help="keys and quotas (JSON)")
    p.add_argument("--orchestrate", action="store_true", default=None, help="orchestrator routes on the status port")
    p.add_argument("--orchestrator", dest="orchestrator_url", metavar="URL", help="pull mode: prove its tasks")
    p.add_argument("--remote-prover", dest="remote_url", metavar="URL",
                   help="offload proofs to this Bonsai-compatible API (key: $ZKRAY_REMOTE_API_KEY)")  # fmt: skip
    p.add_argument("--json-logs", action="store_true", help="structured logs: JSON lines, keys scrubbed")
    return p


def settings_from_args(args: argparse.Namespace, env: dict[str, str] | None = None) -> NodeSettings:
    flags: dict[str, Any] = {
        k: getattr(args, k)
        for k in ("rpc_url", "ws_url", "engine", "key_file", "data_dir", "ray_address", "exit_when_done",
                  "progress", "max_jobs_in_flight")
    }  # fmt: skip
    if args.attester_key_files:
        flags["attester_key_files"] = tuple(args.attester_key_files)
    demo = {k: v for k, v in (("jobs", args.jobs), ("interval_s", args.demo_interval)) if v is not None}
    if demo:
        flags["demo"] = demo
    flags.update(front_flags(args))
    return load_settings(args.config, env, flags)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from_args(args)
    except (ValueError, OSError) as exc:
        print(f"bad settings: {exc}", file=sys.stderr)
        return 2
    if args.json_logs:
        from zkray.node.frontdoors import json_logs

        json_logs(settings)
    if settings.rpc_url is not None and settings.engine is None:
        print("--rpc-url needs --engine (the ExecutionEngine address)", file=sys.stderr)
        return 2
    from zkray.node.assemble import ChainMismatch

    try:
        return asyncio.run(serve(settings, timeout_s=args.timeout))
    except (ChainMismatch, ValueError) as exc:  # a wrong data dir, a missing key: say what to do
        print(f"error: {exc}", file=sys.stderr)
        return 2


async def serve(
    settings: NodeSettings,
    *,
    timeout_s: float | None = None,
    install_signals: bool = True,
    inspect: Callable[[Any, Any], Awaitable[None]] | None = None,
    cancel: asyncio.Event | None = None,
) -> int:
    """Run the node (embedded or against `settings.rpc_url`) until Ctrl-C, `cancel`, the timeout, or done.
    `inspect(embedded, node)` runs after the node stopped, before the devnet goes (tests read the chain)."""
    from zkray.node.embedded import Embedded, external_target, init_ray

    cancel = cancel or asyncio.Event()
    if install_signals:
        _on_interrupt(cancel)
    init_ray(settings.ray_address)
    if settings.front.orchestrator_url is not None:  # pull mode: tasks from an orchestrator, no chain
        from zkray.node.pull_mode import serve_pull_mode

        return await serve_pull_mode(settings, cancel, timeout_s)
    async with Embedded.start(settings) if settings.embedded else _nothing() as embedded:
        target = embedded.target if embedded is not None else external_target(settings, os.environ)
        return await _run(settings, target, embedded, cancel, timeout_s, inspect)


async def _run(
    settings: NodeSettings,
    target: Any,
    embedded: Any,
    cancel: asyncio.Event,
    timeout_s: float | None,
    inspect: Callable[[Any, Any], Awaitable[None]] | None,
) -> int:
    from zkray.node.assemble import build_node
    from zkray.node.frontdoors import remote_prover, start_front_doors
    from zkray.node.progress import show, summary_line

    built = await build_node(
        settings, target, fresh_on_mismatch=embedded is not None, drills=drills_from(os.environ),
        remote=remote_prover(settings.front),
    )  # fmt: skip
    node = built.node
    try:
        doors = await start_front_doors(settings.front, node, running=lambda: not cancel.is_set(), announce=True)
    except BaseException:
        await built.close()
        raise
    posted: Callable[[], list[int]] | None = None
    side: list[asyncio.Task[None]] = []
    demo_cancel = asyncio.Event()
    if embedded is not None:
        requester = embedded.requester(settings)
        posted = lambda: requester.posted  # noqa: E731
        side.append(asyncio.create_task(requester.run(demo_cancel)))
    progress_cancel = asyncio.Event()
    if settings.progress:
        side.append(asyncio.create_task(show(node, progress_cancel, posted)))
    run = asyncio.create_task(node.run(cancel))
    started = time.monotonic()
    done = False
    while not run.done() and not cancel.is_set():
        await asyncio.sleep(0.2)
        if settings.exit_when_done and posted is not None and settings.demo.jobs is not None:
            ids = posted()
            done = len(ids) >= settings.demo.jobs and _all_settled(node, ids)
            if done:
                break
        if timeout_s is not None and time.monotonic() - started >= timeout_s:
            break
    demo_cancel.set()
    cancel.set()
    try:
        await run
    finally:
        progress_cancel.set()
        await asyncio.gather(*side, return_exceptions=True)
        snap = node.snapshot()
        await doors.close()
        await built.close()
    if inspect is not None:
        await inspect(embedded, node)
    print(summary_line(snap, None if posted is None else len(posted())), flush=True)
    for error in snap["errors"]:
        print(f"error: {error}", file=sys.stderr)
    if settings.exit_when_done:
        return 0 if done and not snap["errors"] else 1
    return 0


DRILL_KILL_ENV = "ZKRAY_DRILL_KILL_AFTER_PROVED"


def drills_from(env: Mapping[str, str]) -> Any:
    """Operator drills: `ZKRAY_DRILL_KILL_AFTER_PROVED=N` makes the process die (exit 137, nothing flushed)
    right after storing its N-th proof, before submitting it, to watch the next start submit it once."""
    from zkray.node.stages import Drills

    value = env.get(DRILL_KILL_ENV, "").strip()
    return Drills(kill_after_proved=int(value), hard=True) if value else None


def _all_settled(node: Any, request_ids: list[int]) -> bool:
    from zkray.node.pipeline import job_id_of
    from zkray.policy.jobs import TERMINAL

    for rid in request_ids:
        job = node.journal.find(job_id_of(rid))
        if job is None or job.status not in TERMINAL:
            return False
    return True


def _on_interrupt(cancel: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()

    def interrupted() -> None:
        if cancel.is_set():
            print("\ninterrupted again: exiting now (the journal keeps in-flight jobs)", file=sys.stderr)
            os._exit(130)
        print("\ndraining in-flight jobs (Ctrl-C again to exit at once)…", file=sys.stderr, flush=True)
        cancel.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted)


class _nothing:  # a null async context manager
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())
