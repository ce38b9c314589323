"""Ray nodes for the dashboard: each alive node's CPUs and GPUs, and which jobs its prove tasks are on.

Resources come from `ray.nodes()`. Which job runs where comes from `assignments` (job id → node id) when
the caller knows it, and otherwise from Ray's state API (running tasks named `prove:<job id>:<attempt>:<backend>`
by the proving pool). That API lives in Ray's dashboard, so it is asked only at this Ray instance's own
dashboard address (never "whichever cluster is found": several may run on one machine); without a
dashboard, or when it is slow, the nodes are still listed, with no jobs, rather than failing the status.
Blocking calls: run `ray_nodes` in a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping

from zkray.observe.status import RayNode

log = logging.getLogger("zkray.observe")
PROVE_TASK_PREFIX = "prove:"


def ray_nodes(
    *, assignments: Mapping[str, str] | None = None, tasks: bool = True, timeout_s: float = 2.0
) -> list[RayNode]:
    """Alive Ray nodes with their resources and the job ids being proved on each."""
    import ray

    proving: dict[str, list[str]] = defaultdict(list)
    if assignments is not None:
        for job_id, node_id in assignments.items():
            proving[node_id].append(job_id)
    elif tasks:
        try:
            proving = _running_prove_tasks(timeout_s)
        except Exception as e:  # the state API is optional: no dashboard, or it timed out
            log.debug("ray state API unavailable: %s", e)
    nodes = []
    for n in ray.nodes():
        if not n.get("Alive"):
            continue
        res = n.get("Resources", {})
        node_id = str(n["NodeID"])
        nodes.append(RayNode(node_id=node_id, address=str(n.get("NodeManagerAddress", "")), alive=True,
                             cpus=float(res.get("CPU", 0.0)), gpus=float(res.get("GPU", 0.0)),
                             proving=sorted(proving.get(node_id, []))))  # fmt: skip
    return nodes


def _running_prove_tasks(timeout_s: float) -> dict[str, list[str]]:
    from ray._private.worker import get_dashboard_url
    from ray.util.state import list_tasks

    out: dict[str, list[str]] = defaultdict(list)
    url = get_dashboard_url()
    if not url:
        return out
    address = url if url.startswith("http") else f"http://{url}"
    running = list_tasks(address=address, filters=[("state", "=", "RUNNING")], timeout=max(1, round(timeout_s)),
                         raise_on_missing_output=False)  # fmt: skip
    for task in running:
        name = str(getattr(task, "name", "") or "")
        node_id = getattr(task, "node_id", None)
        if name.startswith(PROVE_TASK_PREFIX) and node_id:
            out[str(node_id)].append(name.split(":")[1])
    return out
