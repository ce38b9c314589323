"""The node's remote prover backend: `BonsaiClient.prove` behind the synchronous, picklable shape that
`zkray.node.proving.request.RemoteProver` asks for (it runs inside a Ray task, which has no event loop).

Program kinds follow the node's seam: "builtin" (program = a built-in guest's name; nothing to upload)
and "elf" (program = the ELF's bytes; uploaded under the image id zkray computes for it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from zkray.api.bonsai_client import DEFAULT_VERSION, BonsaiClient
from zkray.api.errors import BonsaiClientError
from zkray.proving import guests
from zkray.zkvm.rv32im import image_id, load_elf


class UnknownProgram(BonsaiClientError):
    """The node asked for a program kind or guest this backend cannot name; not retryable."""


@dataclass(frozen=True)
class BonsaiRemoteProver:
    """Prove on another zkray cluster (or Bonsai). Pickles with its key, which its repr never shows."""

    url: str
    api_key: SecretStr
    version: str = DEFAULT_VERSION
    timeout_s: float = 600.0
    request_timeout_s: float = 30.0

    def __repr__(self) -> str:
        return f"BonsaiRemoteProver({self.url!r}, timeout_s={self.timeout_s})"

    def prove(self, kind: str, program: Any, input: bytes) -> bytes:
        """The encoded receipt, already verified here; errors carry `retryable` for the node's retry policy."""
        return asyncio.run(self.prove_async(kind, program, input))

    async def prove_async(self, kind: str, program: Any, input: bytes) -> bytes:
        if kind == "builtin":
            iid, elf = guests().get(program), None
            if iid is None:
                raise UnknownProgram(f"no built-in guest {program!r}; known: {sorted(guests())}")
        elif kind == "elf":
            elf = bytes(program)
            iid = await asyncio.to_thread(lambda: image_id(load_elf(elf)))
        else:
            raise UnknownProgram(f"program kind {kind!r} is neither 'builtin' nor 'elf'")
        async with BonsaiClient(self.url, self.api_key.get_secret_value(), version=self.version,
                                request_timeout_s=self.request_timeout_s) as client:
            receipt = await client.prove(iid, bytes(input), timeout=self.timeout_s, elf=elf)
        return receipt.encode()
