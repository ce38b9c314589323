"""The live dashboard: `/` serves the committed static page, `/api/status` the snapshot it polls.

No build step: `static/` holds plain HTML, CSS and JavaScript that poll `/api/status` every second and
draw the throughput chart on a canvas. `add_routes` puts the page, the metrics and both probes on any
aiohttp application (the node's own); `create_app` makes a stand-alone one.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from zkray.observe.health import healthz, readyz_handler
from zkray.observe.metrics import metrics_handler
from zkray.observe.status import NodeStatusSource

STATIC_DIR = Path(__file__).with_name("static")
SOURCE_KEY = web.AppKey("zkray_observe_source", NodeStatusSource)


def status_handler(source: NodeStatusSource) -> web.RequestHandler:
    """GET /api/status → the snapshot as JSON; 503 when the source fails (the page shows 'stale')."""

    async def handle(request: web.Request) -> web.Response:
        try:
            status = await source.status()
        except Exception as e:
            return web.json_response({"error": "status unavailable", "detail": type(e).__name__}, status=503)
        resp = web.Response(text=status.model_dump_json(), content_type="application/json")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return handle


async def index(request: web.Request) -> web.FileResponse:
    resp = web.FileResponse(STATIC_DIR / "index.html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def add_routes(app: web.Application, source: NodeStatusSource, *, dashboard: bool = True) -> None:
    """Mount /metrics, /healthz, /readyz and (unless `dashboard=False`) /, /static/ and /api/status.

    Mount them on an application without API-key middleware (or exempt these paths): Prometheus and
    load-balancer probes send no key.
    """
    app[SOURCE_KEY] = source
    app.router.add_get("/metrics", metrics_handler(source))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz_handler(source))
    if dashboard:
        app.router.add_get("/", index)
        app.router.add_get("/api/status", status_handler(source))
        app.router.add_static("/static/", STATIC_DIR, append_version=False)


def create_app(source: NodeStatusSource, *, dashboard: bool = True) -> web.Application:
    """A stand-alone observability server (e.g. on its own port, apart from the authenticated API)."""
    app = web.Application()
    add_routes(app, source, dashboard=dashboard)
    return app


async def serve(
    source: NodeStatusSource, host: str = "127.0.0.1", port: int = 0, *, dashboard: bool = True
) -> tuple[web.AppRunner, str]:
    """Run `create_app(source)` on host:port (0 = ephemeral); returns the runner (`await runner.cleanup()`)
    and the base URL."""
    runner = web.AppRunner(create_app(source, dashboard=dashboard), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1]
    return runner, f"http://{host}:{bound}"
