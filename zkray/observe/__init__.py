"""Observability for a zkray node: Prometheus metrics, health probes, JSON logs and a live dashboard.

The node hands one `NodeStatusSource` (usually a `JournalStatusSource` over its journal and a `LiveStats`
callback) to `add_routes(app, source)` or `create_app(source)`; every page and probe renders the same
snapshot. Secrets never reach a log line written through `configure_logging`.
"""

from zkray.observe.cluster import ray_nodes
from zkray.observe.dashboard import add_routes, create_app, serve
from zkray.observe.health import readiness
from zkray.observe.logging import JsonFormatter, configure_logging
from zkray.observe.metrics import render as render_metrics
from zkray.observe.node_source import node_status_source
from zkray.observe.status import (
    CacheStats,
    JournalStatusSource,
    LiveStats,
    NodeStatus,
    NodeStatusSource,
    RayNode,
    ThroughputHistory,
    ThroughputSample,
)

__all__ = [
    "CacheStats",
    "JournalStatusSource",
    "JsonFormatter",
    "LiveStats",
    "NodeStatus",
    "NodeStatusSource",
    "RayNode",
    "ThroughputHistory",
    "ThroughputSample",
    "add_routes",
    "configure_logging",
    "create_app",
    "node_status_source",
    "ray_nodes",
    "readiness",
    "render_metrics",
    "serve",
]
