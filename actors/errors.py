"""The actors' exception tree, drawn once:

    ActorError                    a node actor refused a request
    ├── CacheError                a program or proof cache could not do what was asked
    │   ├── EntryTooLarge         one entry is bigger than the whole memory tier
    │   ├── CacheFull             running jobs pin so many bytes that nothing can be evicted to make room
    │   └── EntryPinned           removing an entry a running job holds
    └── AdmissionClosed           the scheduler takes no new jobs in the current degradation mode

Each says what to do about it; `InvalidTransition` and the store's errors pass through unchanged.
"""

from __future__ import annotations


class ActorError(Exception):
    """Base of every error the node's actors raise on purpose."""


class CacheError(ActorError):
    """A cache could not store or reload an entry."""


class EntryTooLarge(CacheError):
    """The entry does not fit the memory tier even when empty; raise the cache's capacity."""

    def __init__(self, key: str, size: int, capacity: int) -> None:
        super().__init__(f"{key}: {size} bytes cannot fit a memory tier of {capacity} bytes; raise its capacity")


class CacheFull(CacheError):
    """Every byte that could be evicted is pinned by a running job; wait for jobs to finish or add capacity."""

    def __init__(self, key: str, size: int, pinned: int, capacity: int) -> None:
        super().__init__(
            f"{key}: no room for {size} bytes: running jobs pin {pinned} of {capacity} bytes and pinned entries "
            "are never evicted; retry after a job releases its entries, or raise the capacity"
        )


class EntryPinned(CacheError):
    """The entry is held by running jobs; release them before removing it."""


class AdmissionClosed(ActorError):
    """The node is degraded and takes no new jobs; the reason names the failing dependency."""
