"""Program and proof caches without Ray: LRU by bytes, pins never evicted, spill/reload, TTL, restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.blob_cache import BlobCache
from actors.disk_tier import DiskTier
from actors.errors import CacheFull, EntryPinned, EntryTooLarge
from actors.lru import ByteLru
from actors.program_cache import ProgramCache
from actors.proof_cache import DAY_S, ProofCache, proof_key


def test_lru_evicts_least_recently_used_by_bytes_and_skips_pinned() -> None:
    lru = ByteLru(100)
    for key, size in [("a", 40), ("b", 30), ("c", 30)]:
        lru.add(key, size)
    lru.touch("a")  # order now b, c, a
    lru.pin("b", "job-1")
    assert lru.victims(30) == ["c"]  # b is older but pinned
    assert lru.victims(60) == ["c", "a"]
    assert lru.victims(71) is None  # only b's 30 bytes are pinned, but 71 + 30 > 100: refuse, evict nothing
    assert lru.release("job-1") == ["b"]
    assert lru.victims(71) == ["b", "c", "a"]


def test_memory_tier_evicts_lru_and_spills_to_disk_then_reloads(tmp_path: Path) -> None:
    cache = BlobCache(100, disk=DiskTier(tmp_path))
    cache.put("a", b"a" * 40, now=0)
    cache.put("b", b"b" * 40, now=1)
    cache.get("a", now=2)  # a is now more recent than b
    cache.put("c", b"c" * 40, now=3)  # evicts b (LRU), spilled to disk
    stats = cache.stats()
    assert stats["bytes"] == 80 and stats["evictions"] == 1 and stats["spills"] == 1
    assert cache.contains("b")  # on disk
    hit = cache.get("b", now=4)
    assert hit is not None and hit.tier == "disk" and hit.handle == b"b" * 40
    assert cache.stats()["disk_hits"] == 1


def test_pinned_entries_are_never_evicted_and_a_full_pinned_cache_refuses(tmp_path: Path) -> None:
    cache = BlobCache(100, disk=DiskTier(tmp_path))
    cache.put("held", b"h" * 60, now=0, pin_job="job-1")
    cache.put("other", b"o" * 40, now=1)
    cache.put("new", b"n" * 40, now=2)  # must evict: 'held' is older but pinned, so 'other' goes
    assert cache.get("held", now=3) is not None and cache.stats()["pinned_bytes"] == 60
    assert cache.acquire("new", "job-2", now=4) is not None
    with pytest.raises(CacheFull, match="pin"):
        cache.put("more", b"m" * 10, now=5)
    with pytest.raises(EntryPinned):
        cache.remove("held")
    cache.release("job-1")
    cache.put("more", b"m" * 10, now=6)  # now 'held' may go
    assert cache.stats()["pins"] == {"job-2": ["new"]}
    with pytest.raises(EntryTooLarge):
        cache.put("huge", b"x" * 101, now=7)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("put get pin release".split()), st.integers(0, 7), st.integers(1, 40))))
def test_no_operation_sequence_evicts_a_pinned_entry(ops: list[tuple[str, int, int]]) -> None:
    cache = BlobCache(100)
    pinned: dict[str, set[str]] = {}  # job -> keys it holds (the model)
    for step, (op, k, size) in enumerate(ops):
        key, job = f"k{k}", f"job{k % 3}"
        if op == "put":
            try:
                cache.put(key, bytes(size), now=step)
            except CacheFull:
                pass
        elif op == "get":
            cache.get(key, now=step)
        elif op == "pin" and cache.acquire(key, job, now=step) is not None:
            pinned.setdefault(job, set()).add(key)
        elif op == "release":
            cache.release(job, now=step)
            pinned.pop(job, None)
        held = set().union(*pinned.values()) if pinned else set()
        for h in held:
            assert cache.contains(h, now=step), f"pinned {h} was evicted"
        assert cache.stats()["bytes"] <= 100


def test_proof_cache_is_keyed_by_image_and_input_and_expires_after_ttl(tmp_path: Path) -> None:
    cache = ProofCache(tmp_path, capacity=1000)
    cache.put("0xAB", "0xCD", b"receipt", now=100.0)
    assert proof_key("0xAB", "0xCD") == proof_key("ab", "cd") == "ab/cd"
    assert cache.get("ab", "cd", now=100.0 + DAY_S - 1) is not None
    assert cache.get("ab", "ce", now=101.0) is None
    assert cache.get("ab", "cd", now=100.0 + DAY_S) is None  # 24 h after it was made
    assert not list(tmp_path.glob("*.bin"))  # expired entries leave the disk too


def test_proof_cache_survives_a_restart_without_extending_the_ttl(tmp_path: Path) -> None:
    ProofCache(tmp_path, capacity=1000).put("aa", "bb", b"proof-bytes", now=1000.0)
    reopened = ProofCache(tmp_path, capacity=1000)  # a new process: memory empty, disk scanned
    hit = reopened.get("aa", "bb", now=2000.0)
    assert hit is not None and hit.handle == b"proof-bytes" and hit.tier == "disk"
    assert ProofCache(tmp_path, capacity=1000).get("aa", "bb", now=1000.0 + DAY_S) is None


def test_a_corrupt_or_half_written_disk_entry_is_a_miss_never_wrong_bytes(tmp_path: Path) -> None:
    ProofCache(tmp_path, capacity=1000).put("aa", "bb", b"good receipt", now=0.0)
    ProofCache(tmp_path, capacity=1000).put("aa", "cc", b"other", now=0.0)
    data_files = sorted(tmp_path.glob("*.bin"))
    data_files[0].write_bytes(b"tampered!!!!")
    (tmp_path / "orphan.bin").write_bytes(b"no sidecar")  # a crash between data and sidecar
    (tmp_path / "x.bin.tmp").write_bytes(b"partial")
    reopened = ProofCache(tmp_path, capacity=1000)
    hits = [reopened.get("aa", d, now=1.0) for d in ("bb", "cc")]
    assert sum(h is not None for h in hits) == 1
    assert all(h.handle in (b"good receipt", b"other") for h in hits if h is not None)
    assert not (tmp_path / "orphan.bin").exists() and not (tmp_path / "x.bin.tmp").exists()


def test_disk_tier_capacity_drops_least_recently_read(tmp_path: Path) -> None:
    disk = DiskTier(tmp_path, capacity=100)
    assert disk.write("a", b"a" * 50, created_at=0)
    assert disk.write("b", b"b" * 50, created_at=0)
    assert disk.write("c", b"c" * 50, created_at=0)  # drops one of the older two
    assert len(disk) == 2 and disk.used == 100 and "c" in disk
    assert not disk.write("big", b"x" * 101, created_at=0)


def test_program_cache_keys_by_image_id_in_any_spelling(tmp_path: Path) -> None:
    cache = ProgramCache(1000, tmp_path)
    cache.put("0xDEAD", b"\x7fELF...")
    assert cache.contains("dead") and cache.acquire("DEAD", "job-9") is not None
    assert cache.stats()["pins"] == {"job-9": ["dead"]}
    assert cache.release("job-9") == ["dead"]
