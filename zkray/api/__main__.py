"""Standalone Bonsai-compatible prover: `python -m zkray.api [--host H] [--port P] [--config FILE]`.

Proves in this process with `LocalProvingService` (no Ray); keys come from `ZKRAY_API_KEYS` or the
config file (see docs/api.md). The node serves the same API from `zkray.serve` on its Ray scheduler.
Prints one line `listening on URL` once it accepts requests, and stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from zkray.api.bonsai_server import create_app, start
from zkray.api.config import ApiConfig
from zkray.api.errors import ConfigError
from zkray.api.local_service import LocalProvingService


async def serve(host: str, port: int, config: ApiConfig, max_concurrent: int) -> None:
    service = LocalProvingService(max_concurrent=max_concurrent)
    runner, url = await start(create_app(service, config), host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"listening on {url}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await service.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zkray.api", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--config", default=None, help="JSON ApiConfig file (else ZKRAY_API_CONFIG)")
    parser.add_argument("--max-concurrent", type=int, default=2, help="proofs at once")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        config = ApiConfig.load(args.config)
    except ConfigError as e:
        parser.error(str(e))
    asyncio.run(serve(args.host, args.port, config, args.max_concurrent))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
