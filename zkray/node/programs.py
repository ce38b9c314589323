"""The node's RV32IM guest programs: where a job's ELF comes from, where it stays warm, and its preflight.

Where an ELF comes from: the engine's program registry names, for each image id, an ELF URL. The node
resolves it once (`zkray.node.inputs.program_elf`: `zkray://guest/<name>` is a guest bundled in this
repository's `guest/`, `ipfs://`/`http(s)://` are fetched like inputs, `data:` is inline), accepts it only
if it loads to the job's image id, and puts it into the **program cache actor** (`actors.program_cache`,
started by `actors.factory.start_program_cache`): ELF bytes in the Ray object store by image id, spilled
to `<data_dir>/programs/` when memory is short. Later jobs for the same image id read it there (no
registry call, no fetch), and the scheduler scores them with the cached-program bonus (`set_cached`).

A job pins its program (`acquire`) from preflight until its task ends (`release`), so a running proof
never loses its ELF to eviction. The prove request carries the cache's object ref, not the bytes: every
segment task of the job resolves the same object-store copy on its node. The attesters read the ELF of a
receipt they verify from `held` (the bytes of the programs pinned by running jobs in this process).

Preflight (`plan_segments`, untraced execution) gives the job's cycles, which feed the deadline check,
the cycle estimates that score the program's next offers (`zkray.node.estimates`), the job's own score if
it returns to the queue, and its segment count for the proving pool's fan-out.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from zkray.node.inputs import GUEST_DIR, GUEST_SCHEME, JobUnprovable, Preflight, program_elf
from zkray.zkvm.continuation import DEFAULT_SEGMENT_CYCLES  # the prover's choice: the largest segment it accepts
from zkray.zkvm.errors import ZkvmError


@dataclass(frozen=True)
class ElfPreflight(Preflight):
    """An ELF job's plan: `program` is the cache's object ref to the ELF, and the run splits into
    `segments` segments of `segment_cycles` cycles (the last one shorter)."""

    segments: int = 1
    segment_cycles: int = DEFAULT_SEGMENT_CYCLES


@dataclass(frozen=True)
class LoadedProgram:
    """A job's ELF: its bytes (for preflight, here) and the object-store handle tasks receive."""

    image_id: str
    elf: bytes
    handle: Any
    source: str  # "cache" or the registry's ELF URL it was fetched from


class Registry(Protocol):
    """What the node needs from the chain: the registry entry of an image id (`ChainAccess.program`)."""

    async def program(self, image_id: bytes) -> dict[str, Any]: ...


class NodePrograms:
    """ELFs for the node's jobs: the program cache actor first, the registry's ELF URL on a miss."""

    def __init__(self, cache: Any, registry: Registry, fetcher: Any, on_cached: Any = None) -> None:
        # cache: a handle to the ProgramCache actor; on_cached(image_ids): the scheduler's set_cached
        self._cache = cache
        self._registry = registry
        self._fetcher = fetcher
        self._on_cached = on_cached
        self._lock = threading.Lock()  # `held` is read from the attesters' worker thread
        self._held: dict[str, bytes] = {}  # image id -> ELF, while some job here holds it
        self._jobs: dict[str, str] = {}  # job id -> image id it holds
        self.fetched = 0  # ELFs resolved from the registry (cache misses)
        self.hits = 0

    async def load(self, image_id: str, job_id: str) -> LoadedProgram:
        """The ELF of `image_id`, pinned for `job_id` until `release(job_id)`. Raises JobUnprovable when
        the registry's ELF is missing or is not this image, ChainError when the registry cannot be read."""
        key = _norm(image_id)
        blob = await self._cache.acquire.remote(key, job_id)
        if blob is not None:
            elf = bytes(await blob.handle)
            self.hits += 1
            source = "cache"
        else:
            entry = await self._registry.program(bytes.fromhex(key))
            source = str(entry["elf_url"])
            elf = await program_elf(self._fetcher, "0x" + key, source)
            blob = await self._cache.put.remote(key, elf, job_id=job_id)
            self.fetched += 1
            if self._on_cached is not None:
                self._on_cached([key])
        with self._lock:
            self._held[key] = elf
            self._jobs[job_id] = key
        return LoadedProgram(key, elf, blob.handle, source)

    async def release(self, job_id: str) -> None:
        """Unpin what `job_id` held (its task ended); a no-op for a job that held nothing."""
        with self._lock:
            key = self._jobs.pop(job_id, None)
            if key is None:
                return
            if key not in self._jobs.values():
                self._held.pop(key, None)
        await self._cache.release.remote(job_id)

    def held(self, image_id: bytes) -> bytes | None:
        """The ELF of `image_id` if a job in this process holds it (the attesters' program lookup)."""
        with self._lock:
            return self._held.get(image_id.hex())

    async def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = await self._cache.stats.remote()
        return {**stats, "fetched": self.fetched, "node_hits": self.hits}


async def preflight_elf(program: LoadedProgram, data: bytes, segment_cycles: int) -> ElfPreflight:
    """Run the guest untraced (`plan_segments`) to count its cycles and segments; JobUnprovable if it
    faults, loops past the cycle limit or otherwise cannot run to its exit."""
    from zkray.zkvm.rv32im.segment import plan_segments

    try:
        plan = await asyncio.to_thread(plan_segments, program.elf, data, segment_cycles=segment_cycles)
    except (ZkvmError, ValueError) as exc:
        raise JobUnprovable(f"preflight of the ELF guest failed: {exc}") from None
    if plan.exit_code != 0:  # a receipt verifies only for a run that succeeded (exit 0), as RISC Zero's does
        raise JobUnprovable(f"the ELF guest exits with code {plan.exit_code} on this input ({plan.cycles} cycles)")
    return ElfPreflight("elf", program.handle, plan.cycles, segments=plan.segments, segment_cycles=plan.segment_cycles)


@dataclass(frozen=True)
class BundledGuest:
    """An RV32IM guest shipped in `guest/`, as the devnet registers it."""

    name: str  # the registry name, "<stem>.elf" (the built-in AIR guests own the bare names "fib", ...)
    image_id: bytes
    elf_url: str  # zkray://guest/<stem>: resolved to this repository's guest/<stem>.elf


def bundled_guests(directory: Path = GUEST_DIR) -> dict[str, BundledGuest]:
    """Every ELF in `guest/` by file stem, with its image id (what the embedded default registers)."""
    from zkray.zkvm.elf import load_elf
    from zkray.zkvm.rv32im.image import image_id

    out = {}
    for path in sorted(directory.glob("*.elf")):
        iid = image_id(load_elf(path.read_bytes()))
        out[path.stem] = BundledGuest(f"{path.stem}.elf", iid, GUEST_SCHEME + path.stem)
    return out


def _norm(image_id: str) -> str:
    return image_id.lower().removeprefix("0x")
