"""Ray nodes for the dashboard: each alive node's CPUs and GPUs, and which jobs its prove tasks are on.

Resources come from `ray.nodes()`. Which job runs where comes from Ray's state API (running tasks named
`prove:<job id>:<attempt>:<backend>` by the proving pool); that API needs Ray's dashboard agent, so where
it is missing or slow the nodes are still listed, with no jobs, rather than failing the whole status.
Blocking calls: run `ray_nodes` in a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import logging
from collections import defaultdict

from zkray.observe.status import RayNode

log = logging.getLogger("zkray.observe")
PROVE_TASK_PREFIX = "prove:"


def ray_nodes(*, tasks: bool = True, timeout_s: float = 2.0) -> list[RayNode]:
    """Alive Ray nodes with their resources and (when `tasks`) the job ids being proved on each."""
    import ray

    proving: dict[str, list[str]] = defaultdict(list)
    if tasks:
        try:
            proving = _running_prove_tasks(timeout_s)
        except Exception as e:  # the state API is optional: no dashboard agent, or it timed out
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
    from ray.util.state import list_tasks

    out: dict[str, list[str]] = defaultdict(list)
    for task in list_tasks(filters=[("state", "=", "RUNNING")], timeout=timeout_s, raise_on_missing_output=False):
        name = str(getattr(task, "name", "") or "")
        node_id = getattr(task, "node_id", None)
        if name.startswith(PROVE_TASK_PREFIX) and node_id:
            out[str(node_id)].append(name.split(":")[1])
    return out
