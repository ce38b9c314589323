"""The node's calls to the engine, each counted by the `rpc` circuit breaker.

Transport failures (refused connection, timeout, JSON-RPC error) count against the breaker; a decoded
revert does not (the node answered). While the breaker is open calls fail fast with `RpcUnavailable`
instead of piling up timeouts, and the degradation policy stops admitting new jobs. `job_state` is the
on-chain check that precedes every claim and every submission (and every retry of either).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from web3 import AsyncWeb3
from web3.exceptions import Web3Exception

from actors.breakers import RPC, CircuitBreakers
from zkray.chain.client import EngineClient, ExecutionRequest, RegistryClient, RequestStatus
from zkray.chain.errors import ContractError, RpcError, TransactionError, TxReverted
from zkray.chain.fees import FeeOracle
from zkray.chain.txmanager import TxOutcome
from zkray.policy.ratelimit import TokenBucket

T = TypeVar("T")
_TRANSPORT = (RpcError, OSError, TimeoutError, aiohttp.ClientError, Web3Exception, asyncio.TimeoutError)


RATE_LIMIT_PAUSE_S = 1.0


def _rate_limited(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "429" in text or "too many requests" in text or "rate limit" in text


class RpcUnavailable(RpcError):
    """The chain RPC's breaker is open: nothing was sent. Retry after it half-opens."""

    retryable = True


@dataclass(frozen=True)
class Completion:
    """Who completed a job on-chain and what they were paid (from ExecutionCompleted)."""

    prover: str
    payout: int
    tx_hash: str


class ChainAccess:
    """An EngineClient (with this node's sender) behind the rpc breaker."""

    def __init__(
        self, w3: AsyncWeb3[Any], engine: EngineClient, breakers: CircuitBreakers, limiter: TokenBucket | None = None
    ) -> None:
        self.w3 = w3
        self.limiter = limiter
        self.engine = engine
        self.breakers = breakers
        self.fees = FeeOracle(w3)
        self.address: str = engine.sender.address if engine.sender is not None else ""
        self._registry: RegistryClient | None = None

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        if not self.breakers.allow(RPC):
            raise RpcUnavailable("the chain RPC breaker is open after repeated failures; waiting for it to recover")
        await self._paced()
        try:
            result = await op()
        except ContractError:
            self.breakers.record(RPC, True)
            raise
        except TxReverted:
            self.breakers.record(RPC, True)
            raise
        except TransactionError:
            self.breakers.record(RPC, False)
            raise
        except _TRANSPORT as exc:
            self.breakers.record(RPC, False)
            if self.limiter is not None and _rate_limited(exc):
                self.limiter.pause_until(time.monotonic() + RATE_LIMIT_PAUSE_S)  # everyone backs off: no 429 storm
            raise RpcError(f"chain RPC failed: {exc}") from exc
        self.breakers.record(RPC, True)
        return result

    async def _paced(self) -> None:
        """Wait for a token of the RPC's rate limit (shared by every call of this node)."""
        if self.limiter is None:
            return
        while not self.limiter.try_acquire(time.monotonic()):
            await asyncio.sleep(max(0.001, self.limiter.wait_time(time.monotonic())))

    async def heartbeat(self) -> int:
        """The head block; feeds the breaker even when no job is moving (so it can close again)."""
        return await self._call(lambda: self.w3.eth.block_number)

    async def job_state(self, request_id: int) -> ExecutionRequest:
        return await self._call(lambda: self.engine.get_request(request_id))

    async def chain_time(self) -> int:
        """The latest block's timestamp: claim deadlines and expiries are in chain time, not ours."""
        block = await self._call(lambda: self.w3.eth.get_block("latest"))
        return int(block["timestamp"])

    async def pending_ids(self, limit: int = 500) -> list[int]:
        return await self._call(lambda: self.engine.get_pending_requests(0, limit))

    async def gas_price(self) -> int:
        fees = await self._call(self.fees.suggest)
        return fees.max_fee

    async def program(self, image_id: bytes) -> dict[str, Any]:
        """The registry's entry for a program (name, verifier, active, elf_url)."""
        if self._registry is None:
            self._registry = RegistryClient(self.w3, await self._call(self.engine.registry))
        registry = self._registry
        return await self._call(lambda: registry.get_program(image_id))

    async def claim(self, request_id: int) -> TxOutcome:
        return await self._call(lambda: self.engine.claim_execution(request_id))

    async def submit(self, request_id: int, seal: bytes, journal: bytes) -> TxOutcome:
        # One attempt per call: the submitter's retry policy decides, checking the chain before each retry.
        return await self._call(lambda: self.engine.submit_proof(request_id, seal, journal))

    async def completion(self, request_id: int, from_block: int = 0) -> Completion | None:
        """The ExecutionCompleted event of a job, if it was completed."""
        event = self.engine.contract.events.ExecutionCompleted

        async def logs() -> list[Any]:
            found = await event.get_logs(argument_filters={"requestId": request_id}, from_block=from_block)
            return list(found)

        found = await self._call(logs)
        if not found:
            return None
        args = found[-1]["args"]
        return Completion(args["prover"], int(args["payout"]), "0x" + bytes(found[-1]["transactionHash"]).hex())

    def completion_in(self, outcome: TxOutcome) -> Completion | None:
        """The ExecutionCompleted event among a submission's receipt logs."""
        from web3.logs import DISCARD

        completed = self.engine.contract.events.ExecutionCompleted()
        events = completed.process_receipt({"logs": outcome.logs}, errors=DISCARD)
        if not events:
            return None
        args = events[0]["args"]
        return Completion(args["prover"], int(args["payout"]), str(outcome.tx_hash))


def is_pending(request: ExecutionRequest) -> bool:
    return request.status is RequestStatus.PENDING
