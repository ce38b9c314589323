"""Shared helpers of the API tests: keys, built-in image ids, a config factory, the `Api` handle."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Any

import zkray
from zkray.api import ApiConfig, BonsaiClient, ProvingService
from zkray.api.models import SessionStatusRes

ALICE = "alice-secret-key-0123456789"
BOB = "bob-secret-key-0123456789ab"
FIB = zkray.guests()["fib"]
FIB_INITIAL = zkray.guests()["fib_input_initial"]


def fib_input(n: int) -> bytes:
    return struct.pack("<I", n)


def config(**overrides: Any) -> ApiConfig:
    """Two keys (alice, bob) with roomy limits; `alice=`/`bob=` dicts override their quotas."""
    alice = {"name": "alice", "key": ALICE, **overrides.pop("alice", {})}
    bob = {"name": "bob", "key": BOB, **overrides.pop("bob", {})}
    return ApiConfig.parse({"keys": [alice, bob], **overrides})


@dataclass
class Api:
    url: str
    service: ProvingService
    config: ApiConfig

    def client(self, key: str = ALICE, **kw: Any) -> BonsaiClient:
        return BonsaiClient(self.url, key, **kw)


async def poll(client: BonsaiClient, session_id: str, bound: int = 3000) -> SessionStatusRes:
    """Status until the session is no longer RUNNING (bounded: at most `bound` polls)."""
    for _ in range(bound):
        status = await client.session_status(session_id)
        if status.status != "RUNNING":
            return status
        await asyncio.sleep(0.02)
    raise AssertionError(f"session {session_id} still running after {bound} polls")


async def wait_state(client: BonsaiClient, session_id: str, bound: int = 3000) -> SessionStatusRes:
    """Status once the session has left the queue (it is executing or proving, or already final)."""
    for _ in range(bound):
        status = await client.session_status(session_id)
        if status.status != "RUNNING" or status.state != "Queued":
            return status
        await asyncio.sleep(0.01)
    raise AssertionError(f"session {session_id} still queued after {bound} polls")
