"""Typed async access to the ExecutionEngine (and its ProgramRegistry): one method per contract function,
reverts raised as the contract's custom errors (zkray.chain.errors), transactions sent through a `Sender`
(a local TxManager or the nonce-manager actor) with an on-chain effect check before every retry."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from zkray.chain.artifacts import abi
from zkray.chain.errors import ChainError, from_web3_error
from zkray.chain.txmanager import EffectCheck, TxCall, TxOutcome

# Fallback gas when estimation fails for a reason other than a revert (measured on anvil, with margin).
GAS_REQUEST = 400_000
GAS_CLAIM = 150_000
GAS_SUBMIT_BASE = 350_000  # plus calldata and the callback's CALLBACK_GAS
GAS_SMALL = 100_000


class Sender(Protocol):
    """Whatever sends this account's transactions: TxManager, or actors.nonce_manager's handle."""

    address: str

    async def send(self, call: TxCall, *, effect: EffectCheck | None = None, attempts: int = 3) -> TxOutcome: ...


class RequestStatus(enum.IntEnum):
    NONE = 0
    PENDING = 1
    CLAIMED = 2
    COMPLETED = 3
    CANCELLED = 4


@dataclass(frozen=True)
class ExecutionRequest:
    id: int
    requester: str
    image_id: bytes
    input_digest: bytes
    input_url: str
    input_type: int
    callback: str | None
    tip: int
    created_at: int
    expires_at: int
    claimant: str | None
    claim_deadline: int
    status: RequestStatus


@dataclass(frozen=True)
class ProverStats:
    claims: int
    completions: int
    expired_claims: int
    earned: int


ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


class EngineClient:
    """The ExecutionEngine at `address`; read-only unless a `sender` is given."""

    def __init__(self, w3: AsyncWeb3[Any], address: str, sender: Sender | None = None) -> None:
        self.w3 = w3
        self.sender = sender
        self.contract = w3.eth.contract(address=w3.to_checksum_address(address), abi=abi("ExecutionEngine"))
        self.address = self.contract.address

    # ---- views ----

    async def get_request(self, request_id: int) -> ExecutionRequest:
        raw = await self._view("getRequest", request_id)
        return ExecutionRequest(
            id=request_id,
            requester=raw[0],
            image_id=bytes(raw[1]),
            input_digest=bytes(raw[2]),
            input_url=raw[3],
            input_type=raw[4],
            callback=None if raw[5] == ZERO_ADDRESS else raw[5],
            tip=raw[6],
            created_at=raw[7],
            expires_at=raw[8],
            claimant=None if raw[9] == ZERO_ADDRESS else raw[9],
            claim_deadline=raw[10],
            status=RequestStatus(raw[11]),
        )

    async def get_current_tip(self, request_id: int) -> int:
        return int(await self._view("getCurrentTip", request_id))

    async def get_pending_requests(self, offset: int = 0, limit: int = 100) -> list[int]:
        return [int(i) for i in await self._view("getPendingRequests", offset, limit)]

    async def pending_count(self) -> int:
        return int(await self._view("pendingCount"))

    async def get_prover_stats(self, prover: str) -> ProverStats:
        raw = await self._view("getProverStats", prover)
        return ProverStats(claims=raw[0], completions=raw[1], expired_claims=raw[2], earned=raw[3])

    async def request_count(self) -> int:
        return int(await self._view("requestCount"))

    async def protocol_fee_bps(self) -> int:
        return int(await self._view("protocolFeeBps"))

    async def accrued_fees(self) -> int:
        return int(await self._view("accruedFees"))

    async def credits(self, account: str) -> int:
        return int(await self._view("credits", account))

    async def registry(self) -> str:
        return str(await self._view("registry"))

    # ---- requester ----

    async def request_execution(
        self,
        image_id: bytes,
        input_digest: bytes,
        input_url: str,
        *,
        tip: int,
        callback: str | None = None,
        expiration_s: int = 0,
        input_type: int | None = None,
    ) -> tuple[int, TxOutcome]:
        """Post a job; returns its request id (from the ExecutionRequested event) and the outcome."""
        args: list[Any] = [image_id, input_digest, input_url, callback or ZERO_ADDRESS, expiration_s]
        signature = "requestExecution(bytes32,bytes32,string,address,uint64)"
        if input_type is not None:
            args.append(input_type)
            signature = "requestExecution(bytes32,bytes32,string,address,uint64,uint8)"
        fn = self.contract.get_function_by_signature(signature)(*args)
        # No effect check: two identical requests are two jobs, so a request is never retried blindly.
        outcome = await self._send(fn, value=tip, fallback_gas=GAS_REQUEST, attempts=1)
        requested = self.contract.events.ExecutionRequested()
        events = requested.process_receipt({"logs": outcome.logs}, errors=DISCARD)
        if not events:
            raise ChainError(f"no ExecutionRequested event in {outcome.tx_hash}")
        return int(events[0]["args"]["requestId"]), outcome

    async def cancel_execution(self, request_id: int) -> TxOutcome:
        async def cancelled() -> bool:
            return (await self.get_request(request_id)).status is RequestStatus.CANCELLED

        return await self._send(self.contract.functions.cancelExecution(request_id), effect=cancelled)

    # ---- prover ----

    async def claim_execution(self, request_id: int) -> TxOutcome:
        """Claim a job. Before any retry, a claim of ours that already landed counts as done."""
        me = self._sender().address

        async def claimed_by_me() -> bool:
            r = await self.get_request(request_id)
            return r.status is RequestStatus.CLAIMED and r.claimant == me

        fn = self.contract.functions.claimExecution(request_id)
        return await self._send(fn, effect=claimed_by_me, fallback_gas=GAS_CLAIM)

    async def submit_proof(self, request_id: int, seal: bytes, journal: bytes) -> TxOutcome:
        """Submit a proof. Before any retry, a job already completed counts as done (never submit twice)."""

        async def completed() -> bool:
            return (await self.get_request(request_id)).status is RequestStatus.COMPLETED

        fn = self.contract.functions.submitProof(request_id, seal, journal)
        gas = GAS_SUBMIT_BASE + 16 * (len(seal) + len(journal)) + 500_000
        return await self._send(fn, effect=completed, fallback_gas=gas)

    async def report_bad_proof(self, request_id: int) -> TxOutcome:
        async def reset() -> bool:
            return (await self.get_request(request_id)).status is not RequestStatus.CLAIMED

        return await self._send(self.contract.functions.reportBadProof(request_id), effect=reset)

    async def withdraw(self) -> TxOutcome:
        return await self._send(self.contract.functions.withdraw(), attempts=1)

    # ---- owner ----

    async def set_protocol_fee(self, fee_bps: int) -> TxOutcome:
        return await self._send(self.contract.functions.setProtocolFee(fee_bps))

    async def withdraw_fees(self, to: str) -> TxOutcome:
        return await self._send(self.contract.functions.withdrawFees(to), attempts=1)

    async def pause(self) -> TxOutcome:
        return await self._send(self.contract.functions.pause())

    async def unpause(self) -> TxOutcome:
        return await self._send(self.contract.functions.unpause())

    # ---- plumbing ----

    def _sender(self) -> Sender:
        if self.sender is None:
            raise ChainError("this EngineClient is read-only: pass a sender (TxManager) to send transactions")
        return self.sender

    async def _view(self, name: str, *args: Any) -> Any:
        try:
            return await self.contract.functions[name](*args).call()
        except ContractLogicError as exc:
            raise from_web3_error(exc) from exc

    async def _send(
        self,
        fn: Any,
        *,
        value: int = 0,
        effect: EffectCheck | None = None,
        fallback_gas: int = GAS_SMALL,
        attempts: int = 3,
    ) -> TxOutcome:
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        call = TxCall(to=self.address, data=data, value=value, fallback_gas=fallback_gas)
        return await self._sender().send(call, effect=effect, attempts=attempts)


class RegistryClient:
    """The ProgramRegistry: which image ids are registered, active, and verified by which contract."""

    def __init__(self, w3: AsyncWeb3[Any], address: str, sender: Sender | None = None) -> None:
        self.contract = w3.eth.contract(address=w3.to_checksum_address(address), abi=abi("ProgramRegistry"))
        self.sender = sender

    async def get_program(self, image_id: bytes) -> dict[str, Any]:
        try:
            name, verifier, active, elf_url, registered_at = await self.contract.functions.getProgram(image_id).call()
        except ContractLogicError as exc:
            raise from_web3_error(exc) from exc
        return {"name": name, "verifier": verifier, "active": active, "elf_url": elf_url, "at": registered_at}

    async def is_active(self, image_id: bytes) -> bool:
        return bool(await self.contract.functions.isActive(image_id).call())

    async def update_program(self, image_id: bytes, verifier: str, active: bool, elf_url: str) -> TxOutcome:
        if self.sender is None:
            raise ChainError("this RegistryClient is read-only: pass a sender to send transactions")
        fn = self.contract.functions.updateProgram(image_id, verifier, active, elf_url)
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        return await self.sender.send(TxCall(to=self.contract.address, data=data))
