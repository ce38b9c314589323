"""`/metrics` in Prometheus text format, rendered from one `NodeStatus` per scrape.

Each scrape builds a fresh `CollectorRegistry` around the snapshot (never the process-global default
registry), so two nodes in one process, or two tests, never see each other's series, and no gauge can go
stale between scrapes: the numbers are the journal's and the live stats' at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from zkray.observe.health import readiness
from zkray.observe.status import NodeStatus, NodeStatusSource
from zkray.policy.breaker import BreakerState
from zkray.policy.degradation import Mode

PREFIX = "zkray"


class StatusCollector(Collector):
    """Turns one snapshot into metric families; names and labels are documented in docs/observability.md."""

    def __init__(self, status: NodeStatus) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        s = self.status
        jobs = GaugeMetricFamily(f"{PREFIX}_jobs", "Jobs in the journal by state", labels=["state"])
        for state, n in sorted(s.jobs.items()):
            jobs.add_metric([state], n)
        yield jobs
        yield CounterMetricFamily(f"{PREFIX}_proofs", "Jobs proved (held or delivered a proof)", value=s.proofs)
        yield CounterMetricFamily(f"{PREFIX}_cycles_proved", "Guest cycles in proved jobs", value=s.cycles_proved)
        t = s.prove_times
        buckets = [(_le(bound), n) for bound, n in t.buckets] + [("+Inf", t.count)]
        yield HistogramMetricFamily(f"{PREFIX}_prove_seconds", "Wall time of prove tasks, seconds",
                                    buckets=buckets, sum_value=t.sum_s)  # fmt: skip
        yield CounterMetricFamily(f"{PREFIX}_earnings_wei", "Payouts received for completed jobs, wei",
                                  value=float(s.earned_wei))  # fmt: skip
        hits = CounterMetricFamily(f"{PREFIX}_cache_hits", "Cache hits", labels=["cache"])
        misses = CounterMetricFamily(f"{PREFIX}_cache_misses", "Cache misses", labels=["cache"])
        for name, c in sorted(s.caches.items()):
            hits.add_metric([name], c.hits)
            misses.add_metric([name], c.misses)
        yield hits
        yield misses
        breakers = GaugeMetricFamily(f"{PREFIX}_breaker_state", "1 for the state each breaker is in",
                                     labels=["breaker", "state"])  # fmt: skip
        for name, state in sorted(s.breakers.items()):
            for candidate in BreakerState:
                breakers.add_metric([name, candidate.value], 1.0 if state == candidate.value else 0.0)
        yield breakers
        mode = GaugeMetricFamily(f"{PREFIX}_degradation_mode", "1 for the current degradation mode", labels=["mode"])
        for m in Mode:
            mode.add_metric([m.value], 1.0 if s.mode is m else 0.0)
        yield mode
        yield GaugeMetricFamily(f"{PREFIX}_degradation_severity", "0 normal … 3 unavailable", value=s.mode.severity)
        cpus = GaugeMetricFamily(f"{PREFIX}_ray_node_cpus", "CPUs of each Ray node", labels=["node"])
        gpus = GaugeMetricFamily(f"{PREFIX}_ray_node_gpus", "GPUs of each Ray node", labels=["node"])
        busy = GaugeMetricFamily(f"{PREFIX}_ray_node_proving", "Prove tasks running on each Ray node", labels=["node"])
        for node in s.nodes:
            cpus.add_metric([node.node_id], node.cpus)
            gpus.add_metric([node.node_id], node.gpus)
            busy.add_metric([node.node_id], len(node.proving))
        yield cpus
        yield gpus
        yield busy
        yield GaugeMetricFamily(f"{PREFIX}_ready", "1 when /readyz answers 200", value=1.0 if readiness(s)[0] else 0.0)


def render(status: NodeStatus) -> bytes:
    """The text exposition of one snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(status))
    return generate_latest(registry)


def metrics_handler(source: NodeStatusSource) -> web.RequestHandler:
    """GET /metrics; a failing source is a 503 (Prometheus marks the target down), never a 500."""

    async def handle(request: web.Request) -> web.Response:
        try:
            status = await source.status()
        except Exception as e:
            return web.json_response({"error": "status unavailable", "detail": type(e).__name__}, status=503)
        resp = web.Response(body=render(status))
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    return handle


def _le(bound: float) -> str:
    return repr(float(bound))
