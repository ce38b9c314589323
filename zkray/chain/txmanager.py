"""Sending transactions from one account safely under concurrency: the I/O half of the nonce manager.

Every transaction of the account goes through one `TxManager`, which reserves its nonce in a `NonceBook`,
signs, broadcasts, and waits for the receipt. One background loop compares the book with the chain every
`poll_s`: it resolves receipts, fills nonces that were reserved and never broadcast, and replaces stuck
transactions with bumped fees. Before any retry it asks the caller's effect check whether the effect
already happened on-chain (the ancestor re-sent claims that had landed).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3Exception, Web3RPCError

from zkray.chain.errors import (
    ContractError,
    NonceTooLow,
    RpcError,
    TransactionError,
    TxDropped,
    TxReverted,
    from_web3_error,
)
from zkray.chain.fees import FeeOracle
from zkray.chain.nonces import Fees, NonceBook, Slot

EffectCheck = Callable[[], Awaitable[bool]]
TRANSFER_GAS = 21_000
FINISHED_KEPT = 4096
RECEIPT_TRIES = 3
# The node did not answer (connection refused or dropped, timeout): nothing is known about the request.
TRANSPORT_ERRORS = (OSError, TimeoutError, aiohttp.ClientError)
GAS_HEADROOM = 1.25  # estimates are exact for the state they ran on; state can change before mining
# Broadcast rejections that say nothing about our transaction itself: retry with a fresh nonce and fees.
RETRYABLE_REJECTIONS = ("underpriced", "replacement transaction", "already imported")


@dataclass(frozen=True)
class TxCall:
    """A transaction to send: destination, calldata, value; gas is estimated when not given."""

    to: str
    data: bytes = b""
    value: int = 0
    gas: int | None = None
    fallback_gas: int = 500_000  # used when estimation fails for a reason other than a revert


@dataclass(frozen=True)
class TxOutcome:
    """What happened: mined (with its receipt fields), or `already_done` when the effect check said so."""

    tx_hash: str | None
    block_number: int | None
    gas_used: int
    effective_gas_price: int
    logs: list[Any]
    already_done: bool = False

    @property
    def cost(self) -> int:
        return self.gas_used * self.effective_gas_price


class TxManager:
    """One account's transactions: nonces, fees, broadcast, receipts, gap filling and replacement."""

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        private_key: str,
        *,
        poll_s: float = 0.05,
        lease_s: float = 30.0,
        stuck_after_s: float = 30.0,
        receipt_timeout_s: float = 600.0,
        fees: FeeOracle | None = None,
    ) -> None:
        self.w3 = w3
        self.account: LocalAccount = Account.from_key(private_key)
        self.address: str = self.account.address
        self.fees = fees or FeeOracle(w3)
        self.book = NonceBook(0, lease_s=lease_s, stuck_after_s=stuck_after_s)
        self._poll_s = poll_s
        self._receipt_timeout_s = receipt_timeout_s
        self._waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        # Resolved futures stay answerable for a while, for low-level callers that wait late.
        self._finished: collections.OrderedDict[int, asyncio.Future[dict[str, Any]]] = collections.OrderedDict()
        self._chain_id = 0
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.stats = {"sent": 0, "fillers": 0, "replacements": 0, "retries": 0, "already_done": 0}

    async def start(self) -> TxManager:
        self._chain_id = await self.w3.eth.chain_id
        self.book.next_nonce = await self.w3.eth.get_transaction_count(self.address, "pending")  # type: ignore[arg-type]
        self._loop_task = asyncio.create_task(self._run(), name=f"txmanager-{self.address[:8]}")
        return self

    async def close(self) -> None:
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(TransactionError("transaction manager closed before the receipt arrived"))
        self._waiters.clear()

    async def __aenter__(self) -> TxManager:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- the high-level path ----

    async def send(self, call: TxCall, *, effect: EffectCheck | None = None, attempts: int = 3) -> TxOutcome:
        """Send `call` and wait until mined. Retries dropped or rejected transactions, checking `effect`
        on-chain first; raises TxReverted (with the decoded error) if it reverts, ContractError if the
        estimate shows it would."""
        return await send_with_retries(self.send_once, call, effect=effect, attempts=attempts, stats=self.stats)

    async def send_once(self, call: TxCall) -> TxOutcome:
        """One attempt: reserve a nonce, sign, broadcast, wait for the receipt (TxDropped if replaced)."""
        gas = call.gas or await self.estimate_gas(call)
        fees = await self.fees.suggest()
        nonce = self.reserve()
        payload = {"to": call.to, "data": call.data, "value": call.value, "gas": gas}
        try:
            tx_hash = await self._broadcast(nonce, payload, fees)
        except NonceTooLow:
            self.abandon(nonce)
            pending = await self.w3.eth.get_transaction_count(self.address, "pending")  # type: ignore[arg-type]
            self.book.observe_chain(pending)
            raise
        except BaseException:
            self.abandon(nonce)
            raise
        self.book.broadcast(nonce, tx_hash, fees, payload, time.monotonic())
        self.stats["sent"] += 1
        receipt = await self.wait(nonce)
        if receipt["status"] != 1:
            raise TxReverted(receipt["transactionHash"], await self._revert_reason(payload, receipt))
        return TxOutcome(
            tx_hash=receipt["transactionHash"],
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            effective_gas_price=receipt["effectiveGasPrice"],
            logs=list(receipt["logs"]),
        )

    async def estimate_gas(self, call: TxCall) -> int:
        """Gas estimate with headroom; a revert raises the decoded ContractError, other failures fall back."""
        tx = {"from": self.address, "to": call.to, "data": call.data, "value": call.value}
        try:
            estimate = await self.w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise from_web3_error(exc) from exc
        except (Web3Exception, *TRANSPORT_ERRORS):
            return call.fallback_gas
        return int(estimate * GAS_HEADROOM)

    # ---- the low-level path, for senders that sign elsewhere ----

    def reserve(self) -> int:
        """Reserve the next nonce; report it with `mark_broadcast` or `abandon` within the lease."""
        nonce = self.book.reserve(time.monotonic())
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "exception never retrieved"
        self._waiters[nonce] = fut
        return nonce

    def mark_broadcast(self, nonce: int, tx_hash: str, fees: Fees, payload: Any) -> None:
        self.book.broadcast(nonce, tx_hash, fees, payload, time.monotonic())

    def abandon(self, nonce: int) -> None:
        self.book.abandon(nonce)
        if self.book.slot(nonce) is None:  # given back (it was the highest): nobody will mine it
            fut = self._waiters.pop(nonce, None)
            if fut is not None and not fut.done():
                fut.set_exception(TxDropped(f"nonce {nonce} abandoned before broadcast"))
        self._wake.set()

    async def wait(self, nonce: int) -> dict[str, Any]:
        """The receipt of whatever transaction of ours is mined at `nonce`; TxDropped if it was a filler."""
        fut = self._waiters.get(nonce) or self._finished.get(nonce)
        if fut is None:
            raise TransactionError(f"nonce {nonce} is not tracked by this manager")
        return await asyncio.wait_for(asyncio.shield(fut), self._receipt_timeout_s)

    # ---- broadcasting ----

    async def _broadcast(self, nonce: int, payload: dict[str, Any], fees: Fees) -> str:
        tx = {
            **payload,
            "nonce": nonce,
            "chainId": self._chain_id,
            "maxFeePerGas": fees.max_fee,
            "maxPriorityFeePerGas": fees.priority_fee,
            "type": 2,
        }
        signed = self.account.sign_transaction(tx)
        tx_hash = "0x" + signed.hash.hex().removeprefix("0x")
        try:
            await self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Web3RPCError as exc:
            message = str(exc).lower()
            if "already known" in message:
                return tx_hash  # the node has exactly this transaction: it is broadcast
            if "nonce too low" in message:
                raise NonceTooLow(f"broadcast at nonce {nonce} rejected: {exc}") from exc
            if any(r in message for r in RETRYABLE_REJECTIONS):
                self.fees.invalidate()
                raise RpcError(f"broadcast at nonce {nonce} rejected: {exc}") from exc
            raise TransactionError(f"broadcast at nonce {nonce} rejected: {exc}") from exc
        except TRANSPORT_ERRORS as exc:
            # The node may have the transaction even though the answer was lost. Treat it as broadcast:
            # if it never lands, the stuck-transaction replacement re-sends it; never sign a second one.
            _ = exc
            return tx_hash
        return tx_hash

    async def _revert_reason(self, payload: dict[str, Any], receipt: dict[str, Any]) -> ContractError | None:
        # Replayed on the state after its block: when another transaction in the same block made it revert
        # (two provers racing for one claim), that is the state that explains the revert.
        tx = {"from": self.address, **payload}
        try:
            await self.w3.eth.call(tx, receipt["blockNumber"])  # type: ignore[arg-type]
        except ContractLogicError as exc:
            return from_web3_error(exc)
        except Web3Exception:
            return None
        return None

    # ---- the reconcile loop ----

    async def _run(self) -> None:
        while True:
            try:
                await self.reconcile()
            except (Web3Exception, *TRANSPORT_ERRORS):
                pass  # the node is unreachable: try again next tick; the book keeps everything
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)

    async def reconcile(self) -> None:
        """One pass: resolve mined nonces, fill abandoned ones, replace stuck ones."""
        if not len(self.book):
            return
        mined = await self.w3.eth.get_transaction_count(self.address, "latest")  # type: ignore[arg-type]
        pending = await self.w3.eth.get_transaction_count(self.address, "pending")  # type: ignore[arg-type]
        plan = self.book.plan(mined, pending, time.monotonic())
        if plan.confirmed:
            await asyncio.gather(*(self._resolve(slot) for slot in plan.confirmed))
        if plan.fill or plan.replace:
            suggested = await self.fees.suggest()
            for nonce in plan.fill:
                await self._fill(nonce, suggested)
            for slot in plan.replace:
                await self._replace(slot, suggested)

    async def _resolve(self, slot: Slot) -> None:
        fut = self._waiters.pop(slot.nonce, None)
        if fut is None or fut.done():
            return
        self._finished[slot.nonce] = fut
        while len(self._finished) > FINISHED_KEPT:
            self._finished.popitem(last=False)
        for attempt in range(RECEIPT_TRIES):
            try:
                receipt = await self._find_receipt(slot)
                break
            except (Web3Exception, *TRANSPORT_ERRORS) as exc:
                if attempt == RECEIPT_TRIES - 1:
                    # The caller's retry checks the effect on-chain first, so this is safe to surface.
                    fut.set_exception(RpcError(f"nonce {slot.nonce} was mined but its receipt is unreadable: {exc}"))
                    return
                await asyncio.sleep(self._poll_s * (attempt + 1))
        if receipt is None:
            fut.set_exception(TxDropped(f"nonce {slot.nonce} was used by a transaction not sent by this manager"))
        elif slot.filler:
            fut.set_exception(TxDropped(f"nonce {slot.nonce} was filled with a no-op; send again"))
        else:
            fut.set_result(_plain_receipt(receipt))

    async def _find_receipt(self, slot: Slot) -> Any:
        """The receipt of whichever of our broadcasts at this nonce was mined (newest first), or None."""
        for tx_hash in reversed(slot.hashes):
            try:
                return await self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                continue
        return None

    async def _fill(self, nonce: int, suggested: Fees) -> None:
        payload = {"to": self.address, "data": b"", "value": 0, "gas": TRANSFER_GAS}
        # Bumped, in case the lease holder did broadcast after all and the node holds its transaction.
        fees = suggested.bumped(suggested)
        try:
            tx_hash = await self._broadcast(nonce, payload, fees)
        except ChainErrorTypes:
            self.book.fill_failed(nonce)
            return
        self.book.filled(nonce, tx_hash, fees, payload, time.monotonic())
        self.stats["fillers"] += 1

    async def _replace(self, slot: Slot, suggested: Fees) -> None:
        if slot.fees is None or slot.payload is None:
            return
        fees = slot.fees.bumped(suggested)
        try:
            tx_hash = await self._broadcast(slot.nonce, slot.payload, fees)
        except ChainErrorTypes:
            return  # e.g. mined meanwhile ("nonce too low"): the next pass resolves it
        self.book.replaced(slot.nonce, tx_hash, fees, time.monotonic())
        self.stats["replacements"] += 1


ChainErrorTypes = (RpcError, TransactionError)


async def send_with_retries(
    send_once: Callable[[TxCall], Awaitable[TxOutcome]],
    call: TxCall,
    *,
    effect: EffectCheck | None,
    attempts: int,
    stats: dict[str, int] | None = None,
) -> TxOutcome:
    """Up to `attempts` sends of `call`; before each, `effect` says whether it already happened on-chain
    (a claim that landed, a job completed by an earlier attempt whose receipt we never saw)."""
    counts = stats if stats is not None else {}
    last: Exception | None = None
    for attempt in range(attempts):
        if effect is not None and await effect():
            counts["already_done"] = counts.get("already_done", 0) + 1
            return TxOutcome(None, None, 0, 0, [], already_done=True)
        if attempt:
            counts["retries"] = counts.get("retries", 0) + 1
        try:
            return await send_once(call)
        except (TxDropped, RpcError) as exc:
            last = exc
    raise TransactionError(f"gave up after {attempts} attempts: {last}") from last


def _plain_receipt(receipt: Any) -> dict[str, Any]:
    return {
        "transactionHash": "0x" + bytes(receipt["transactionHash"]).hex(),
        "blockNumber": receipt["blockNumber"],
        "status": receipt["status"],
        "gasUsed": receipt["gasUsed"],
        "effectiveGasPrice": receipt["effectiveGasPrice"],
        "logs": receipt["logs"],
    }
