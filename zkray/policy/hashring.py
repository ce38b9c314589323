"""A consistent hash ring: which node of a cluster owns a job, with little reshuffling on change.

Each node is placed at `virtual_nodes` points on a 64-bit ring (blake2b of "node#i"); a key belongs to
the first point clockwise from its own hash. Adding a node moves only the keys it takes over (about
1/N of them), removing one moves only its keys, and virtual nodes even out the shares.
"""

from __future__ import annotations

import bisect
import hashlib

from zkray.policy.errors import HashRingEmpty


def _point(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class HashRing:
    """Nodes on a ring; `lookup(key)` is the owner, `lookup_n(key, n)` the owner and its successors."""

    def __init__(self, nodes: tuple[str, ...] | list[str] = (), virtual_nodes: int = 128) -> None:
        if virtual_nodes < 1:
            raise ValueError("virtual_nodes must be at least 1")
        self.virtual_nodes = virtual_nodes
        self._points: list[int] = []
        self._owner: dict[int, str] = {}
        self._nodes: set[str] = set()
        for node in nodes:
            self.add(node)

    @property
    def nodes(self) -> frozenset[str]:
        """The nodes on the ring."""
        return frozenset(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def add(self, node: str) -> None:
        """Put a node on the ring; adding it twice changes nothing."""
        if node in self._nodes:
            return
        self._nodes.add(node)
        for i in range(self.virtual_nodes):
            point = _point(f"{node}#{i}")
            # a 64-bit collision between two nodes' points is astronomically rare; keep the first owner
            if point not in self._owner:
                self._owner[point] = node
                bisect.insort(self._points, point)

    def remove(self, node: str) -> None:
        """Take a node off the ring; removing an absent node changes nothing."""
        if node not in self._nodes:
            return
        self._nodes.discard(node)
        self._points = [p for p in self._points if self._owner[p] != node]
        self._owner = {p: self._owner[p] for p in self._points}

    def lookup(self, key: str) -> str:
        """The node that owns `key`."""
        if not self._points:
            raise HashRingEmpty("the hash ring has no nodes; add at least one before looking keys up")
        index = bisect.bisect_right(self._points, _point(key)) % len(self._points)
        return self._owner[self._points[index]]

    def lookup_n(self, key: str, n: int) -> list[str]:
        """Up to `n` distinct nodes for `key`, owner first (for replicas or fallbacks)."""
        if not self._points:
            raise HashRingEmpty("the hash ring has no nodes; add at least one before looking keys up")
        wanted = min(n, len(self._nodes))
        start = bisect.bisect_right(self._points, _point(key))
        found: list[str] = []
        for step in range(len(self._points)):
            node = self._owner[self._points[(start + step) % len(self._points)]]
            if node not in found:
                found.append(node)
                if len(found) == wanted:
                    break
        return found
