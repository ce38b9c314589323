"""The policy layer's exception tree, drawn once:

    PolicyError                   a pure decision refused its input
    ├── InvalidTransition         a job status change the state machine forbids
    ├── CompressionError          bytes that are not a valid compressed frame (unknown codec, bomb, corrupt)
    └── HashRingEmpty             a lookup on a ring with no nodes

Policies never do I/O, so nothing here wraps an OS or network error; adapters wrap these instead.
"""

from __future__ import annotations


class PolicyError(Exception):
    """Base of every error the policy layer raises on purpose."""


class InvalidTransition(PolicyError):
    """A job may not move from `current` to `new`; the caller should re-read the job and decide again."""

    def __init__(self, current: object, new: object, job_id: str | None = None) -> None:
        self.current = current
        self.new = new
        self.job_id = job_id
        where = f"job {job_id}: " if job_id else ""
        super().__init__(
            f"{where}cannot move from {getattr(current, 'value', current)} to {getattr(new, 'value', new)}; "
            "re-read the job's status and decide again"
        )


class CompressionError(PolicyError):
    """The bytes are not a frame this node wrote (bad header, corrupt body, or larger than the cap)."""


class HashRingEmpty(PolicyError):
    """The ring has no nodes; add at least one node before looking keys up."""
