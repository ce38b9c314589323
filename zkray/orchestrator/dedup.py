"""Recently seen task ids, so that a task served twice is proven once. Pure: takes `now`.

Bounded two ways, like the Nexus node's TaskCache: at most `capacity` ids (the oldest go first) and
each for at most `ttl_s` seconds.
"""

from __future__ import annotations

from collections import OrderedDict


class RecentTasks:
    """A TTL set of task ids with a size cap."""

    def __init__(self, capacity: int = 500, ttl_s: float = 3600.0) -> None:
        if capacity < 1 or ttl_s <= 0:
            raise ValueError("capacity must be at least 1 and ttl_s positive")
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._seen: OrderedDict[str, float] = OrderedDict()  # id -> time first seen, oldest first

    def _prune(self, now: float) -> None:
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at < self.ttl_s and len(self._seen) <= self.capacity:
                break
            del self._seen[oldest]

    def check_and_add(self, task_id: str, now: float) -> bool:
        """True if `task_id` was seen within the TTL (a duplicate); otherwise remember it and return False."""
        self._prune(now)
        if task_id in self._seen:
            return True
        self._seen[task_id] = now
        self._prune(now)
        return False

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._seen

    def __len__(self) -> int:
        return len(self._seen)
