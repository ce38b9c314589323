"""The nonce-manager actor: one per sending account, so that every task of a Ray cluster that claims or
submits goes through the same nonce book and no two transactions ever share a nonce.

The logic is `zkray.chain.nonces.NonceBook` (pure) driven by `zkray.chain.txmanager.TxManager` (I/O);
this module only hosts a TxManager in an async actor and gives callers a `Sender` for `EngineClient`.
Effect checks run in the caller (they are closures over the caller's read-only client); the actor does
single attempts.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray
from web3 import AsyncHTTPProvider, AsyncWeb3

from zkray.chain.nonces import Fees
from zkray.chain.txmanager import EffectCheck, TxCall, TxManager, TxOutcome, send_with_retries


class NonceManager:
    """A TxManager for one account, created lazily inside the actor's event loop."""

    def __init__(self, rpc_url: str, private_key: str, **options: Any) -> None:
        self._rpc_url = rpc_url
        self._key = private_key
        self._options = options
        self._tx: TxManager | None = None
        self._starting: asyncio.Lock | None = None

    async def _manager(self) -> TxManager:
        # Hundreds of calls can arrive before the first start() finishes: exactly one may create it.
        if self._tx is None:
            self._starting = self._starting or asyncio.Lock()
            async with self._starting:
                if self._tx is None:
                    w3 = AsyncWeb3(AsyncHTTPProvider(self._rpc_url, request_kwargs={"timeout": 30}))
                    self._tx = await TxManager(w3, self._key, **self._options).start()
        return self._tx

    async def address(self) -> str:
        return (await self._manager()).address

    async def send_once(self, call: TxCall) -> TxOutcome:
        return await (await self._manager()).send_once(call)

    async def reserve(self) -> int:
        """For senders that sign themselves: a nonce to broadcast at within the lease."""
        return (await self._manager()).reserve()

    async def mark_broadcast(self, nonce: int, tx_hash: str, fees: Fees, payload: Any) -> None:
        (await self._manager()).mark_broadcast(nonce, tx_hash, fees, payload)

    async def abandon(self, nonce: int) -> None:
        (await self._manager()).abandon(nonce)

    async def wait(self, nonce: int) -> dict[str, Any]:
        return await (await self._manager()).wait(nonce)

    async def stats(self) -> dict[str, int]:
        tx = await self._manager()
        return {**tx.stats, "outstanding": len(tx.book), "next_nonce": tx.book.next_nonce}

    async def close(self) -> None:
        if self._tx is not None:
            await self._tx.close()
            self._tx = None


def start_nonce_manager(
    rpc_url: str,
    private_key: str,
    *,
    name: str | None = None,
    replace: bool = False,
    max_restarts: int = 0,
    **options: Any,
) -> ray.actor.ActorHandle:
    """Start (or, with `name`, get) the nonce-manager actor for one account. `options` go to TxManager.
    `replace`: kill a live actor of that name first (the node starts its own, reading the nonce from the
    chain, rather than inherit one bound to another endpoint). Restarted (`max_restarts`), it reads the
    account's pending nonce from the chain again; a send in flight at the crash fails and is the caller's to
    retry after its effect check."""
    if replace and name is not None:
        from actors.factory import kill_named

        kill_named(name)
    actor = ray.remote(NonceManager).options(
        name=name,
        get_if_exists=name is not None and not replace,
        max_concurrency=1000,
        num_cpus=0,
        max_restarts=max_restarts,
    )
    return actor.remote(rpc_url, private_key, **options)


class ActorSender:
    """A `Sender` for EngineClient that sends through the actor and checks effects locally."""

    def __init__(self, handle: ray.actor.ActorHandle, address: str) -> None:
        self.handle = handle
        self.address = address
        self.stats: dict[str, int] = {}

    @classmethod
    async def of(cls, handle: ray.actor.ActorHandle) -> ActorSender:
        return cls(handle, await handle.address.remote())

    async def send(self, call: TxCall, *, effect: EffectCheck | None = None, attempts: int = 3) -> TxOutcome:
        async def once(c: TxCall) -> TxOutcome:
            outcome: TxOutcome = await self.handle.send_once.remote(c)
            return outcome

        return await send_with_retries(once, call, effect=effect, attempts=attempts, stats=self.stats)
