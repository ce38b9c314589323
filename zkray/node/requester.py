"""The demo requester of the embedded default: posts a stream of jobs for the built-in guests and, one
job in `ELF_SHARE`, for the RV32IM ELF guests bundled in `guest/` (fib, sort, sha256; registered by the
embedded devnet), so the demo proves composite receipts (segments on Ray) beside the built-in AIR.

Inputs travel inline as `data:` URIs (the engine's inputType 1), so the demo needs no IPFS or HTTP
server; the input digest is SHA-256 of the input bytes, as for any job. The mix (which guest, which n)
comes from a seeded generator, so a demo run is reproducible.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import struct
from dataclasses import dataclass, field
from typing import Any

from web3 import AsyncHTTPProvider, AsyncWeb3

from zkray.chain.client import EngineClient
from zkray.chain.txmanager import TxManager
from zkray.node.inputs import data_uri
from zkray.node.settings import DemoSettings
from zkray.proving import guests

WEI_PER_ETH = 10**18
INLINE = 1  # the engine's inputType for data: URIs


ELF_SHARE = 0.25
"""Share of the demo's jobs posted for the bundled ELF guests (the rest: the built-in AIR guests)."""
ELF_GUESTS = ("fib", "sort", "sha256")  # guest/<stem>.elf that read their input and exit 0 on any input given


@dataclass(frozen=True)
class DemoJob:
    guest: str  # a built-in guest name, or "<stem>.elf" for a bundled ELF guest
    input: bytes


def demo_job(rng: random.Random, max_n: int, elf_share: float = 0.0) -> DemoJob:
    """One job: fib(n), or fib from a chosen start (a, b); with probability `elf_share` a bundled ELF guest's
    (fib(n), a sort of up to 64 words, or SHA-256 of up to 128 bytes: one or two 2^13-cycle segments)."""
    if rng.random() < elf_share:
        guest = rng.choice(ELF_GUESTS)
        if guest == "fib":
            return DemoJob("fib.elf", struct.pack("<I", rng.randint(8, max_n)))
        if guest == "sort":
            words = [rng.getrandbits(32) for _ in range(rng.randint(1, 64))]
            return DemoJob("sort.elf", struct.pack(f"<{len(words)}I", *words))
        return DemoJob("sha256.elf", rng.randbytes(rng.randint(0, 128)))
    n = rng.randint(8, max_n)
    if rng.random() < 0.5:
        return DemoJob("fib", struct.pack("<I", n))
    return DemoJob("fib_input_initial", struct.pack("<III", n, rng.randint(0, 9), rng.randint(1, 9)))


@dataclass
class DemoRequester:
    """Posts `settings.jobs` jobs (or forever), one every `interval_s`; `posted` lists the request ids."""

    rpc_url: str
    engine: str
    key: str
    settings: DemoSettings
    elf_guests: dict[str, bytes] = field(default_factory=dict)  # "<stem>.elf" -> image id, as registered
    elf_share: float = ELF_SHARE  # of the jobs, when `elf_guests` has the demo's ELF guests
    posted: list[int] = field(default_factory=list)
    failures: int = 0

    async def run(self, cancel: asyncio.Event) -> None:
        rng = random.Random(self.settings.seed + len(self.posted))
        image_ids = {**guests(), **self.elf_guests}
        w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(self.rpc_url, request_kwargs={"timeout": 10}))
        try:
            await self._post(w3, rng, image_ids, cancel)
        finally:
            await w3.provider.disconnect()

    async def _post(
        self, w3: AsyncWeb3[Any], rng: random.Random, image_ids: dict[str, bytes], cancel: asyncio.Event
    ) -> None:
        async with TxManager(w3, self.key) as tx:
            client = EngineClient(w3, self.engine, sender=tx)
            tip = int(self.settings.tip_eth * WEI_PER_ETH)
            while not cancel.is_set() and (self.settings.jobs is None or len(self.posted) < self.settings.jobs):
                has_elf = all(f"{g}.elf" in image_ids for g in ELF_GUESTS)
                job = demo_job(rng, self.settings.max_n, self.elf_share if has_elf else 0.0)
                try:
                    request_id, _ = await client.request_execution(
                        image_ids[job.guest], hashlib.sha256(job.input).digest(), data_uri(job.input),
                        tip=tip, expiration_s=self.settings.expiration_s, input_type=INLINE,
                    )  # fmt: skip
                    self.posted.append(request_id)
                except Exception:  # a demo keeps going; the count shows in the progress
                    self.failures += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cancel.wait(), self.settings.interval_s)
