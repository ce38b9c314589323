"""The seam between the HTTP API and whatever proves: a `ProvingService`.

The Bonsai server speaks HTTP and enforces keys, quotas and limits; everything about images, sessions
and receipts goes through this protocol. `LocalProvingService` implements it in-process (threads) for
standalone use and tests; the node implements it on its Ray scheduler, so API sessions share the queue,
caches and breakers of on-chain jobs. Implementations raise the `ServiceError`s of `zkray.api.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable


class SessionStatus(StrEnum):
    """Bonsai's session status values, exactly as the SDK compares them."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


FINAL_STATUSES = frozenset({SessionStatus.SUCCEEDED, SessionStatus.FAILED, SessionStatus.TIMED_OUT,
                            SessionStatus.ABORTED})  # fmt: skip


@dataclass(frozen=True)
class SessionRequest:
    """What a client asked for. `owner` is the API key's name: sessions are private to their key."""

    image_id: bytes
    input: bytes
    owner: str
    execute_only: bool = False
    cycle_limit: int | None = None  # cycles; None = the service's own limit


@dataclass(frozen=True)
class SessionStats:
    """`cycles`: the guest's own cycles; `total_cycles`: what was proven (padded); `segments`: proof parts."""

    segments: int
    total_cycles: int
    cycles: int


@dataclass(frozen=True)
class SessionView:
    """A snapshot of one session, as `status` returns it."""

    session_id: str
    owner: str
    status: SessionStatus
    state: str  # where a RUNNING session is: Queued, Executor, ProveSegments: 0/1, Finalize, or "" when final
    elapsed_s: float
    execute_only: bool
    error: str | None = None
    stats: SessionStats | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@runtime_checkable
class ProvingService(Protocol):
    """What the Bonsai API needs from a prover. Every method is bounded; none blocks the event loop."""

    async def has_image(self, image_id: bytes) -> bool:
        """Whether `image_id` names a built-in guest or an uploaded ELF."""
        ...

    async def put_image(self, image_id: bytes, elf: bytes) -> bool:
        """Store an ELF under its image id; False if it was already there. Raises ImageInvalid/ImageIdMismatch."""
        ...

    async def delete_image(self, image_id: bytes) -> None:
        """Forget an uploaded ELF (built-in guests cannot be deleted: ImageInvalid). Raises ImageMissing."""
        ...

    async def submit(self, request: SessionRequest) -> str:
        """Start a session and return its id at once. Raises ImageMissing, ServiceBusy."""
        ...

    async def status(self, session_id: str) -> SessionView:
        """A snapshot of the session. Raises SessionMissing."""
        ...

    async def logs(self, session_id: str) -> str:
        """The session's log lines (executor and prover events), newline-separated. Raises SessionMissing."""
        ...

    async def stop(self, session_id: str) -> SessionView:
        """End a RUNNING session as ABORTED (a final one is left as it is). Raises SessionMissing."""
        ...

    async def receipt(self, session_id: str) -> bytes:
        """The encoded receipt of a SUCCEEDED proving session. Raises SessionMissing, ReceiptMissing."""
        ...

    async def journal(self, session_id: str) -> bytes:
        """The journal of a SUCCEEDED session (execute-only ones included). Raises SessionMissing, ReceiptMissing."""
        ...

    async def close(self) -> None:
        """Stop every session and release workers."""
        ...
