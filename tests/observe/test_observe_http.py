"""/metrics, /healthz, /readyz and /api/status over real HTTP on a loopback port, against a real journal."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from observe_support import add, walk
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from zkray.observe import LiveStats, NodeStatus, add_routes
from zkray.policy.degradation import Mode
from zkray.policy.jobs import JobStatus as S
from zkray.store.journal import JobJournal


async def scrape(http: aiohttp.ClientSession, server: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with http.get(f"{server}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        text = await resp.text()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_metrics_follow_jobs_breakers_caches_and_mode(journal: JobJournal, live: LiveStats, server, http):
    for i in range(3):
        add(journal, f"j{i}")
    walk(journal, "j0", S.COMPLETED, cycles=4_096, payout_wei=9 * 10**14)
    walk(journal, "j1", S.PROVING)
    live.prove_durations_s = [0.3, 1.5]
    live.caches = {"proof": {"hits": 2, "misses": 7}}
    live.breakers = {"rpc": {"state": "closed", "state_now": "closed"}, "ipfs-gateway:a": "open"}
    m = await scrape(http, server)
    assert m[("zkray_jobs", (("state", "completed"),))] == 1
    assert m[("zkray_jobs", (("state", "proving"),))] == 1
    assert m[("zkray_jobs", (("state", "discovered"),))] == 1
    assert m[("zkray_jobs", (("state", "failed"),))] == 0
    assert m[("zkray_proofs_total", ())] == 1
    assert m[("zkray_cycles_proved_total", ())] == 4_096
    assert m[("zkray_earnings_wei_total", ())] == 9 * 10**14
    assert m[("zkray_prove_seconds_count", ())] == 2 and m[("zkray_prove_seconds_sum", ())] == 1.8
    assert m[("zkray_prove_seconds_bucket", (("le", "0.5"),))] == 1
    assert m[("zkray_prove_seconds_bucket", (("le", "+Inf"),))] == 2
    assert m[("zkray_cache_hits_total", (("cache", "proof"),))] == 2
    assert m[("zkray_cache_misses_total", (("cache", "proof"),))] == 7
    assert m[("zkray_breaker_state", (("breaker", "ipfs-gateway:a"), ("state", "open")))] == 1
    assert m[("zkray_breaker_state", (("breaker", "rpc"), ("state", "open")))] == 0
    assert m[("zkray_degradation_mode", (("mode", "normal"),))] == 1
    assert m[("zkray_ready", ())] == 1

    walk(journal, "j1", S.COMPLETED, payout_wei=10**14)
    live.mode, live.mode_reason = Mode.UNAVAILABLE, "95% of proofs fail"
    m = await scrape(http, server)
    assert m[("zkray_jobs", (("state", "completed"),))] == 2 and m[("zkray_proofs_total", ())] == 2
    assert m[("zkray_earnings_wei_total", ())] == 10**15
    assert m[("zkray_degradation_mode", (("mode", "unavailable"),))] == 1
    assert m[("zkray_degradation_mode", (("mode", "normal"),))] == 0
    assert m[("zkray_degradation_severity", ())] == 3 and m[("zkray_ready", ())] == 0
    # our own registry per scrape: nothing leaked into the process-global default one
    assert REGISTRY.get_sample_value("zkray_proofs_total") is None


async def test_healthz_and_readyz(live: LiveStats, server, http):
    async def get(path: str) -> tuple[int, dict]:
        async with http.get(server + path) as resp:
            return resp.status, await resp.json()

    assert await get("/healthz") == (200, {"status": "ok"})
    status, body = await get("/readyz")
    assert status == 200 and body["ready"] is True and body["reasons"] == []
    live.mode = Mode.MINIMAL  # still finishing and submitting what it holds: ready
    assert (await get("/readyz"))[0] == 200
    live.mode, live.mode_reason = Mode.UNAVAILABLE, "proving is broken"
    status, body = await get("/readyz")
    assert status == 503 and body["ready"] is False and "proving is broken" in body["reasons"][0]
    live.mode, live.running = Mode.NORMAL, False
    status, body = await get("/readyz")
    assert status == 503 and body["reasons"] == ["the node's sources are not running"]
    assert (await get("/healthz"))[0] == 200  # alive though not ready: no restart for it


async def test_a_failing_source_gives_503_not_500(http):
    class Broken:
        async def status(self) -> NodeStatus:
            raise ConnectionError("journal gone")

    app = web.Application()
    add_routes(app, Broken())
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        for path in ("/readyz", "/metrics", "/api/status"):
            async with http.get(base + path) as resp:
                assert resp.status == 503, path
                assert "journal gone" not in await resp.text()  # no internals in answers
        async with http.get(base + "/healthz") as resp:
            assert resp.status == 200
    finally:
        await runner.cleanup()


async def test_api_status_and_static_files(journal: JobJournal, server, http):
    add(journal, "x")
    walk(journal, "x", S.COMPLETED, payout_wei=2**70)
    async with http.get(f"{server}/api/status") as resp:
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
        body = await resp.json()
    assert body["jobs"]["completed"] == 1 and body["earned_wei"] == str(2**70) and body["mode"] == "normal"
    assert NodeStatus.model_validate(body).earned_wei == 2**70
    async with http.get(f"{server}/") as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        assert '<canvas id="chart"' in await resp.text()
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        async with http.get(f"{server}/static/{name}") as resp:
            assert resp.status == 200 and kind in resp.content_type
    async with http.get(f"{server}/static/../status.py") as resp:
        assert resp.status in (403, 404)
