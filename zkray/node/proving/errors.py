"""The proving layer's exception tree, drawn once:

    ProvingError                  a proof could not be made on the cluster
    ├── NoCapableNode             no alive node has the resources a prove task asks for (never scheduled)
    ├── ProveTimeout              a prove task ran past its deadline and was killed (retryable)
    ├── ProveTaskCrashed          the worker died under the task: OOM killer, killed, node lost (retryable)
    ├── ProveOutOfMemory          the task's allocation failed under its address-space budget (retried once)
    ├── RemoteReceiptInvalid      the remote prover answered with a receipt that does not verify (retryable)
    ├── UnknownProgramKind        the request names a program kind no prover is registered for
    └── ProveFailed               every attempt failed, or a permanent error; `cause` holds the last one

Errors raised inside the task by the proof system (InputError, ProofError, VerificationError) are
permanent: proving the same input again gives the same answer.
"""

from __future__ import annotations


class ProvingError(Exception):
    """Base of every error the proving layer raises on purpose."""


class NoCapableNode(ProvingError):
    """No alive node can run the task's resource shape; add such a node or lower the per-task request."""

    retryable = False


class ProveTimeout(ProvingError, TimeoutError):
    """The task was still running at its deadline and was killed; it is retried (maybe on another backend)."""

    retryable = True


class ProveTaskCrashed(ProvingError):
    """The worker process died (OOM killer, a kill, a lost node); the task is retried."""

    retryable = True


class ProveOutOfMemory(ProvingError, MemoryError):
    """An allocation failed inside the task (its `task_memory_mib` budget, or the machine's memory). The pool
    retries it `oom_attempts` - 1 times (a fresh start, perhaps another node), then fails the job, marked out
    of memory: raise `task_memory_mib`, lower `segment_cycles`, or add memory."""

    retryable = True


class RemoteReceiptInvalid(ProvingError):
    """The remote prover's receipt failed local verification; its breaker counts it and the job falls back."""

    retryable = True


class UnknownProgramKind(ProvingError):
    """Register a prover for the kind in `zkray.node.proving.request.PROVERS`."""

    retryable = False


class ProveFailed(ProvingError):
    """The job's proof failed for good; `cause` is the last attempt's error, `attempts` how many ran."""

    def __init__(self, job_id: str, attempts: int, cause: BaseException) -> None:
        self.job_id = job_id
        self.attempts = attempts
        self.cause = cause
        super().__init__(f"job {job_id}: proving failed after {attempts} attempt(s): {cause}")
