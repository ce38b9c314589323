"""`/healthz` (liveness) and `/readyz` (readiness), the two probes an orchestrator such as Kubernetes asks.

Liveness says only that the process answers HTTP: restarting a node because its RPC is down would lose
its claims for nothing. Readiness says whether to send it work: its sources are running and it is not
UNAVAILABLE (MINIMAL and DEGRADED nodes still finish and submit what they hold, so they stay ready).
"""

from __future__ import annotations

import logging

from aiohttp import web

from zkray.observe.status import NodeStatus, NodeStatusSource
from zkray.policy.degradation import Mode

log = logging.getLogger("zkray.observe")


def readiness(status: NodeStatus) -> tuple[bool, list[str]]:
    """(ready, reasons it is not); pure, so the metric `zkray_ready` and `/readyz` always agree."""
    reasons = []
    if not status.running:
        reasons.append("the node's sources are not running")
    if status.mode is Mode.UNAVAILABLE:
        reasons.append(f"mode is unavailable: {status.mode_reason or 'no reason given'}")
    return not reasons, reasons


async def healthz(request: web.Request) -> web.Response:
    """200 while the process serves requests."""
    return web.json_response({"status": "ok"})


def readyz_handler(source: NodeStatusSource) -> web.RequestHandler:
    """200 {"ready": true} or 503 with the reasons; a source that raises is not ready."""

    async def handle(request: web.Request) -> web.Response:
        try:
            status = await source.status()
        except Exception as e:
            log.warning("readiness check failed: %s", type(e).__name__)
            return web.json_response({"ready": False, "reasons": [f"status unavailable: {type(e).__name__}"]},
                                     status=503)  # fmt: skip
        ready, reasons = readiness(status)
        body = {"ready": ready, "mode": status.mode.value, "running": status.running, "reasons": reasons}
        return web.json_response(body, status=200 if ready else 503)

    return handle
