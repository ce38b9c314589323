"""Typed errors of the chain adapter, with reverts decoded from the contracts' custom errors.

    ChainError
    ├── BuildError              contracts cannot be compiled, or an artifact is missing
    ├── DevnetError             anvil did not start, or deployment failed
    ├── RpcError                the node did not answer or answered with a JSON-RPC error
    │   └── NonceTooLow         another wallet used the account's nonce; the manager re-synced
    ├── TransactionError        a transaction did not have its effect
    │   ├── TxDropped           its nonce was used by another transaction (replacement, gap fill)
    │   ├── TxReverted          it was mined and reverted; `.cause` holds the decoded ContractError
    │   └── LeaseExpired        a reserved nonce was not broadcast in time and was given to a filler
    └── ContractError           a revert with decoded custom error: `.name`, `.args`
        ├── EngineError         ExecutionEngine's errors (TipTooLow, AlreadyClaimed, ...)
        ├── RegistryError       ProgramRegistry's errors
        ├── AttestationError    AttestationVerifier's errors (a rejected proof)
        └── AccessError         OpenZeppelin's ownership and pause errors

Every custom error of the contracts has a class here of the same name (a test checks the ABI against
this module), so callers write `except TipTooLow:` rather than matching strings.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak
from web3.exceptions import ContractLogicError


class ChainError(Exception):
    """Base of every error raised by zkray.chain."""


class BuildError(ChainError):
    """The contracts could not be compiled or an artifact is missing; run `python -m zkray.chain.build`."""


class DevnetError(ChainError):
    """The local devnet could not start or deploy; the message carries anvil's output."""


class RpcError(ChainError):
    """The node failed to answer a call; usually transient, so callers may retry."""


class NonceTooLow(RpcError):
    """The account's nonce moved on outside this manager (another wallet); it re-syncs, so retrying works."""


class TransactionError(ChainError):
    """A transaction did not have its effect."""


class TxDropped(TransactionError):
    """Another transaction took this one's nonce; check the effect on-chain before retrying."""


class LeaseExpired(TransactionError):
    """A reserved nonce was not reported as broadcast in time; reserve a new nonce and sign again."""


class TxReverted(TransactionError):
    """The transaction was mined but reverted."""

    def __init__(self, tx_hash: str, cause: ContractError | None) -> None:
        self.tx_hash = tx_hash
        self.cause = cause
        super().__init__(f"transaction {tx_hash} reverted" + (f": {cause}" if cause else ""))


class ContractError(ChainError):
    """A revert decoded from the contract: `name` is the Solidity error, `args` its named arguments."""

    hint = ""

    def __init__(self, name: str, args: dict[str, Any], data: bytes = b"") -> None:
        self.name = name
        self.args_by_name = args
        self.data = data
        shown = ", ".join(f"{k}={_show(v)}" for k, v in args.items())
        super().__init__(f"{name}({shown})" + (f": {self.hint}" if self.hint else ""))


class EngineError(ContractError):
    """A revert of ExecutionEngine."""


class RegistryError(ContractError):
    """A revert of ProgramRegistry."""


class AttestationError(ContractError):
    """AttestationVerifier rejected a seal: the proof was not attested by enough registered attesters."""


class AccessError(ContractError):
    """An OpenZeppelin access or pause check failed."""


# ---- ExecutionEngine ----
class TipTooLow(EngineError):
    hint = "send at least MIN_TIP (0.0001 ETH) with the request"


class InvalidExpiration(EngineError):
    hint = "expiration must be 0 (1 h default) or between 60 s and 30 days"


class ProgramNotActive(EngineError):
    hint = "the image id is not registered or is deactivated in the ProgramRegistry"


class InvalidCallback(EngineError):
    hint = "the callback must be a contract (or the zero address for none)"


class RequestNotFound(EngineError):
    hint = "no request has this id"


class RequestExpired(EngineError):
    hint = "the request is past its expiry; it can only be cancelled"


class AlreadyClaimed(EngineError):
    hint = "another prover holds a live claim; wait for its deadline"


class InvalidStatus(EngineError):
    hint = "the request is not in a state that allows this call (see getRequest)"


class NotClaimant(EngineError):
    hint = "only the prover holding the claim may submit"


class ClaimDeadlinePassed(EngineError):
    hint = "the claim window closed; claim again before submitting"


class ClaimNotExpired(EngineError):
    hint = "the claimant still has time; report only after the claim deadline"


class NotRequester(EngineError):
    hint = "only the requester may cancel"


class FeeTooHigh(EngineError):
    hint = "the protocol fee is capped at MAX_FEE_BPS (1000)"


class NothingToWithdraw(EngineError):
    hint = "no credited balance or fees to withdraw"


class TransferFailed(EngineError):
    hint = "the recipient refused ether; make it accept ether and withdraw again"


# ---- ProgramRegistry ----
class ProgramAlreadyRegistered(RegistryError):
    hint = "use updateProgram to change a registered program"


class ProgramNotRegistered(RegistryError):
    hint = "register the program first"


class ZeroVerifier(RegistryError):
    hint = "a program needs a verifier contract address"


# ---- AttestationVerifier ----
class MalformedSeal(AttestationError):
    hint = "the seal must be abi.encode(bytes32 receiptDigest, bytes[] signatures); see zkray.attest"


class MalformedSignature(AttestationError):
    hint = "a signature is not a valid 65-byte ECDSA signature"


class UnknownAttester(AttestationError):
    hint = "a signer is not a registered attester, or signed another statement (journal/image id mismatch)"


class SignersNotSorted(AttestationError):
    hint = "order signatures by increasing signer address, one per attester (zkray.attest.encode_seal does)"


class BelowThreshold(AttestationError):
    hint = "collect signatures from more attesters"


class InvalidThreshold(AttestationError):
    hint = "the threshold must be between 1 and the number of attesters"


class AttesterAlreadyRegistered(AttestationError):
    hint = "this attester is already registered (or is the zero address)"


class AttesterNotRegistered(AttestationError):
    hint = "this address is not a registered attester"


# ---- OpenZeppelin ----
class OwnableUnauthorizedAccount(AccessError):
    hint = "only the contract owner may call this"


class OwnableInvalidOwner(AccessError):
    hint = "the owner cannot be the zero address"


class EnforcedPause(AccessError):
    hint = "the engine is paused; wait for the owner to unpause"


class ExpectedPause(AccessError):
    hint = "the engine is not paused"


class ReentrancyGuardReentrantCall(AccessError):
    hint = "re-entrant call rejected"


class InvalidShortString(AccessError):
    hint = "EIP-712 domain name too long (constructor only)"


class StringTooLong(AccessError):
    hint = "EIP-712 domain string too long (constructor only)"


class RevertMessage(ContractError):
    """A plain `revert("...")` / `require(..., "...")`."""


class Panic(ContractError):
    """A Solidity panic (assert, overflow, division by zero); a contract bug, not a caller mistake."""


_ARTIFACTS = ("ExecutionEngine", "ProgramRegistry", "AttestationVerifier", "RevertingCallback")
_ERROR_SELECTOR = bytes.fromhex("08c379a0")
_PANIC_SELECTOR = bytes.fromhex("4e487b71")


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def _signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(_abi_type(i) for i in entry['inputs'])})"


def _abi_type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + param["type"][5:]
    return str(param["type"])


@cache
def _selectors() -> dict[bytes, dict[str, Any]]:
    from zkray.chain.artifacts import abi  # deferred: artifacts imports this module

    table: dict[bytes, dict[str, Any]] = {}
    for contract in _ARTIFACTS:
        for entry in abi(contract):
            if entry["type"] == "error":
                table[keccak(text=_signature(entry))[:4]] = entry
    return table


def error_classes() -> dict[str, type[ContractError]]:
    """Every named contract-error class in this module, by Solidity error name."""
    found: dict[str, type[ContractError]] = {}
    pending: list[type[ContractError]] = [ContractError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found[sub.__name__] = sub
            pending.append(sub)
    return found


def decode_revert(data: bytes) -> ContractError:
    """Turn revert data into the typed error of the contract that raised it."""
    selector, body = data[:4], data[4:]
    if selector == _ERROR_SELECTOR:
        (message,) = abi_decode(["string"], body)
        return RevertMessage("Error", {"message": message}, data)
    if selector == _PANIC_SELECTOR:
        (code,) = abi_decode(["uint256"], body)
        return Panic("Panic", {"code": hex(code)}, data)
    entry = _selectors().get(selector)
    if entry is None:
        return ContractError("UnknownError", {"data": data}, data)
    values = abi_decode([_abi_type(i) for i in entry["inputs"]], body)
    args = {i["name"] or f"arg{n}": v for n, (i, v) in enumerate(zip(entry["inputs"], values, strict=True))}
    cls = error_classes().get(entry["name"], ContractError)
    return cls(entry["name"], args, data)


def from_web3_error(exc: ContractLogicError) -> ContractError:
    """The typed error behind web3's ContractLogicError (from a call or a gas estimate)."""
    data = exc.data if isinstance(exc.data, str) else None
    if data and data.startswith("0x") and len(data) >= 10:
        return decode_revert(bytes.fromhex(data[2:]))
    return ContractError("Revert", {"message": str(exc)})
