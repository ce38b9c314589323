"""Proving on Ray: prove tasks with GPU annotations where the cluster has GPUs, the remote → GPU → CPU
fallback chain, hung-task timeouts and retries. `ProvingPool(RayRuntime(), config)` is the entry point.
"""

from zkray.node.proving.errors import (
    NoCapableNode,
    ProveFailed,
    ProveOutOfMemory,
    ProveTaskCrashed,
    ProveTimeout,
    ProvingError,
    RemoteReceiptInvalid,
    UnknownProgramKind,
)
from zkray.node.proving.placement import TaskShape, choose_backend, runnable_backends, shape_for
from zkray.node.proving.pool import BREAKER_OF, ProveOutcome, ProvingPool, TaskRecord
from zkray.node.proving.request import PROVERS, Fault, ProveRequest, RemoteProver, run_compose, run_prove, run_segment

__all__ = [
    "BREAKER_OF",
    "PROVERS",
    "Fault",
    "NoCapableNode",
    "ProveFailed",
    "ProveOutOfMemory",
    "ProveOutcome",
    "ProveRequest",
    "ProveTaskCrashed",
    "ProveTimeout",
    "ProvingError",
    "ProvingPool",
    "RemoteProver",
    "RemoteReceiptInvalid",
    "TaskRecord",
    "TaskShape",
    "UnknownProgramKind",
    "choose_backend",
    "run_compose",
    "run_prove",
    "run_segment",
    "runnable_backends",
    "shape_for",
]
