"""The consistent hash ring: stable lookups, balanced shares, minimal remapping."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkray.policy.errors import HashRingEmpty
from zkray.policy.hashring import HashRing

KEYS = [f"job-{i}" for i in range(3000)]


def owners(ring: HashRing) -> dict[str, str]:
    return {k: ring.lookup(k) for k in KEYS}


def test_lookups_are_stable_and_independent_of_insertion_order() -> None:
    a = HashRing(["n1", "n2", "n3"])
    b = HashRing(["n3", "n1", "n2"])
    assert owners(a) == owners(b)


def test_shares_are_roughly_even() -> None:
    counts = Counter(owners(HashRing([f"n{i}" for i in range(5)])).values())
    assert set(counts) == {f"n{i}" for i in range(5)}
    assert max(counts.values()) < 2 * min(counts.values())


def test_adding_a_node_moves_only_keys_to_it_and_about_one_in_n() -> None:
    ring = HashRing(["n1", "n2", "n3", "n4"])
    before = owners(ring)
    ring.add("n5")
    after = owners(ring)
    moved = [k for k in KEYS if before[k] != after[k]]
    assert all(after[k] == "n5" for k in moved)
    assert 0.1 < len(moved) / len(KEYS) < 0.3  # ideal 1/5


def test_removing_a_node_moves_only_its_keys() -> None:
    ring = HashRing(["n1", "n2", "n3", "n4"])
    before = owners(ring)
    ring.remove("n2")
    after = owners(ring)
    assert all(before[k] == "n2" for k in KEYS if before[k] != after[k])
    assert "n2" not in after.values()
    ring.remove("n2")  # absent: no change
    ring.add("n2")
    assert owners(ring) == before


def test_lookup_n_gives_distinct_nodes_owner_first() -> None:
    ring = HashRing(["a", "b", "c"])
    replicas = ring.lookup_n("job-1", 5)
    assert len(replicas) == 3 and len(set(replicas)) == 3
    assert replicas[0] == ring.lookup("job-1")


def test_an_empty_ring_says_what_to_do() -> None:
    with pytest.raises(HashRingEmpty, match="add at least one"):
        HashRing().lookup("x")


@settings(max_examples=40, deadline=None)
@given(st.sets(st.integers(0, 20), min_size=1, max_size=8), st.integers(21, 30))
def test_adding_then_removing_a_node_restores_every_owner(nodes: set[int], extra: int) -> None:
    ring = HashRing([f"n{i}" for i in nodes], virtual_nodes=16)
    sample = KEYS[:200]
    before = {k: ring.lookup(k) for k in sample}
    ring.add(f"n{extra}")
    assert all(ring.lookup(k) in (before[k], f"n{extra}") for k in sample)
    ring.remove(f"n{extra}")
    assert {k: ring.lookup(k) for k in sample} == before
