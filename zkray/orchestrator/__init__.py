"""Orchestrator mode, both sides: protobuf over HTTP, modelled on the Nexus network's orchestrator.

`OrchestratorServer` hands out tasks (`POST /v3/tasks`) and accepts Ed25519-signed proofs that verify
(`POST /v3/tasks/submit`); `PullWorker` / `run_worker` is a node that fetches, proves, signs and
submits; `run_anonymous` proves a demo locally with no network. Wire format: orchestrator.proto.
See docs/orchestrator.md.
"""

from zkray.orchestrator.anonymous import run_anonymous
from zkray.orchestrator.client import OrchestratorClient
from zkray.orchestrator.config import ServerConfig, WorkerConfig
from zkray.orchestrator.errors import (
    NodeKeyError,
    NoTasks,
    OrchestratorError,
    OrchestratorHttpError,
    RateLimited,
    Rejected,
    Rejection,
    UnknownProgram,
    WireError,
)
from zkray.orchestrator.keys import NodeKey, load_or_create_key
from zkray.orchestrator.programs import PROGRAMS, prove_task, verify_proof
from zkray.orchestrator.server import OrchestratorServer
from zkray.orchestrator.signing import proof_hash, sign_submission, signature_valid, signing_message
from zkray.orchestrator.stats import WorkerStats
from zkray.orchestrator.worker import ProveFn, PullWorker, run_worker

__all__ = [
    "PROGRAMS",
    "NoTasks",
    "NodeKey",
    "NodeKeyError",
    "OrchestratorClient",
    "OrchestratorError",
    "OrchestratorHttpError",
    "OrchestratorServer",
    "ProveFn",
    "PullWorker",
    "RateLimited",
    "Rejected",
    "Rejection",
    "ServerConfig",
    "UnknownProgram",
    "WireError",
    "WorkerConfig",
    "WorkerStats",
    "load_or_create_key",
    "proof_hash",
    "prove_task",
    "run_anonymous",
    "run_worker",
    "sign_submission",
    "signature_valid",
    "signing_message",
    "verify_proof",
]
