"""The orchestrator package's exception tree, drawn once:

    OrchestratorError              base of every error this package raises on purpose
    ├── WireError                  bytes that are not the protobuf message the endpoint expects
    ├── NodeKeyError               the node's Ed25519 key file or variable is unusable (says how to fix it)
    ├── UnknownProgram             a task names a program this node cannot prove
    ├── Rejected                   the orchestrator refused a submission; `.reason` is a `Rejection`
    └── OrchestratorHttpError      a non-2xx answer or no answer; `.status` (0 = no answer), `.retry_after_s`
        ├── NoTasks                404 from POST /v3/tasks: nothing to do right now
        └── RateLimited            429: the node polled too fast; wait `.retry_after_s`

`retryable` tells `zkray.policy.retry.classify` whether asking again can help: no answer, 408, 429
and 5xx can; a 4xx refusal cannot.
"""

from __future__ import annotations

from enum import Enum


class OrchestratorError(Exception):
    """Base of every error the orchestrator package raises on purpose."""

    retryable: bool = False


class WireError(OrchestratorError):
    """A body that does not decode as the expected message; send `application/octet-stream` protobuf."""


class NodeKeyError(OrchestratorError):
    """The node key could not be loaded or saved; the message names the file or variable and the fix."""


class UnknownProgram(OrchestratorError):
    """A program id with no built-in guest behind it; the message lists the ids that are known."""


class Rejection(Enum):
    """Why a submission was refused, with the HTTP status the server answers."""

    MALFORMED = 400  # missing fields, or an unsupported signature version
    BAD_SIGNATURE = 401  # the Ed25519 signature does not verify over "0 | task_id | proof_hash"
    WRONG_KEY = 403  # the task was never served to this public key
    UNKNOWN_TASK = 404
    DUPLICATE = 409  # a proof for this task was already accepted
    EXPIRED = 410  # past the task's deadline
    BAD_PROOF = 422  # hash mismatch, undecodable receipt, or a receipt that does not verify for the task

    @property
    def status(self) -> int:
        return self.value


class Rejected(OrchestratorError):
    """A submission the orchestrator refused; retrying the same bytes cannot help."""

    def __init__(self, reason: Rejection, detail: str) -> None:
        super().__init__(f"{reason.name.lower()}: {detail}")
        self.reason = reason
        self.detail = detail


_RETRY_STATUS = frozenset({0, 408, 425, 429, 500, 502, 503, 504})


class OrchestratorHttpError(OrchestratorError):
    """The orchestrator answered with an error status (or not at all: status 0)."""

    def __init__(self, status: int, detail: str, retry_after_s: float | None = None) -> None:
        where = "no answer" if status == 0 else f"HTTP {status}"
        super().__init__(f"orchestrator {where}: {detail}")
        self.status = status
        self.detail = detail
        self.retry_after_s = retry_after_s
        self.retryable = status in _RETRY_STATUS


class NoTasks(OrchestratorHttpError):
    """The orchestrator has no task for this node now (HTTP 404)."""


class RateLimited(OrchestratorHttpError):
    """The orchestrator asked this node to slow down (HTTP 429); `retry_after_s` says for how long."""
