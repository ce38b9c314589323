"""Every custom error of the contracts is reached by a scenario against a real anvil and surfaces as its
typed Python exception; forged, under-threshold and mismatched attestations are rejected on-chain."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import pytest
from chain_support import TIP, attest, call_as, deploy, engine_as, fib_receipt, image_id
from web3 import AsyncHTTPProvider, AsyncWeb3

from zkray import Receipt
from zkray.attest import Attester, Statement, encode_seal
from zkray.chain import errors
from zkray.chain.artifacts import abi
from zkray.chain.client import RegistryClient
from zkray.chain.devnet import Devnet
from zkray.chain.txmanager import TxManager

Scenario = Callable[[Devnet], Awaitable[object]]
SCENARIOS: dict[str, Scenario] = {}
# OpenZeppelin errors no caller sees: EIP-712 constructor string checks and a zero initial owner cannot
# happen in a correct deployment; the re-entrancy guard's error only reaches a re-entrant callback, whose
# revert the engine catches (test_chain_lifecycle checks it arrives in CallbackFailed).
UNREACHABLE = {"InvalidShortString", "StringTooLong", "OwnableInvalidOwner", "ReentrancyGuardReentrantCall"}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = fn
        return fn

    return register


async def _pending_request(chain: Devnet, *, expiration_s: int = 0, image: bytes | None = None) -> int:
    assert chain.roles is not None
    async with engine_as(chain, chain.roles.requesters[0]) as requester:
        request_id, _ = await requester.request_execution(
            image or image_id(), os.urandom(32), "", tip=TIP, expiration_s=expiration_s
        )
    return request_id


async def _claimed_request(chain: Devnet, image: bytes | None = None) -> int:
    assert chain.roles is not None
    request_id = await _pending_request(chain, image=image)
    async with engine_as(chain, chain.roles.provers[0]) as prover:
        await prover.claim_execution(request_id)
    return request_id


async def _submit(chain: Devnet, request_id: int, seal: bytes, journal: bytes) -> object:
    assert chain.roles is not None
    async with engine_as(chain, chain.roles.provers[0]) as prover:
        return await prover.submit_proof(request_id, seal, journal)


async def _request(chain: Devnet, **kw: object) -> object:
    assert chain.roles is not None
    args = {"image_id": image_id(), "input_digest": b"\0" * 32, "input_url": "", "tip": TIP, **kw}
    async with engine_as(chain, chain.roles.requesters[0]) as requester:
        return await requester.request_execution(**args)  # type: ignore[arg-type]


# ---- ExecutionEngine ----


@scenario("TipTooLow")
async def _tip_too_low(chain: Devnet) -> object:
    return await _request(chain, tip=10**14 - 1)


@scenario("InvalidExpiration")
async def _bad_expiration(chain: Devnet) -> object:
    return await _request(chain, expiration_s=59)


@scenario("ProgramNotActive")
async def _unknown_program(chain: Devnet) -> object:
    return await _request(chain, image_id=os.urandom(32))


@scenario("InvalidCallback")
async def _eoa_callback(chain: Devnet) -> object:
    assert chain.roles is not None
    return await _request(chain, callback=chain.roles.spare[0].address)


@scenario("RequestNotFound")
async def _missing(chain: Devnet) -> object:
    assert chain.roles is not None
    async with engine_as(chain, chain.roles.provers[0]) as prover:
        return await prover.claim_execution(10**6)


@scenario("RequestExpired")
async def _expired(chain: Devnet) -> object:
    assert chain.roles is not None
    request_id = await _pending_request(chain, expiration_s=60)
    chain.increase_time(61)
    async with engine_as(chain, chain.roles.provers[0]) as prover:
        return await prover.claim_execution(request_id)


@scenario("AlreadyClaimed")
async def _double_claim(chain: Devnet) -> object:
    assert chain.roles is not None
    request_id = await _claimed_request(chain)
    async with engine_as(chain, chain.roles.provers[1]) as other:
        return await other.claim_execution(request_id)


@scenario("InvalidStatus")
async def _submit_unclaimed(chain: Devnet) -> object:
    receipt = fib_receipt()
    request_id = await _pending_request(chain)
    return await _submit(chain, request_id, attest(chain, receipt), receipt.journal)


@scenario("NotClaimant")
async def _wrong_prover(chain: Devnet) -> object:
    assert chain.roles is not None
    receipt = fib_receipt()
    request_id = await _claimed_request(chain)
    async with engine_as(chain, chain.roles.provers[1]) as other:
        return await other.submit_proof(request_id, attest(chain, receipt), receipt.journal)


@scenario("ClaimDeadlinePassed")
async def _late(chain: Devnet) -> object:
    receipt = fib_receipt()
    request_id = await _claimed_request(chain)
    chain.increase_time(601)
    return await _submit(chain, request_id, attest(chain, receipt), receipt.journal)


@scenario("ClaimNotExpired")
async def _early_report(chain: Devnet) -> object:
    assert chain.roles is not None
    request_id = await _claimed_request(chain)
    async with engine_as(chain, chain.roles.requesters[1]) as reporter:
        return await reporter.report_bad_proof(request_id)


@scenario("NotRequester")
async def _foreign_cancel(chain: Devnet) -> object:
    assert chain.roles is not None
    request_id = await _pending_request(chain)
    async with engine_as(chain, chain.roles.requesters[1]) as other:
        return await other.cancel_execution(request_id)


@scenario("FeeTooHigh")
async def _fee(chain: Devnet) -> object:
    assert chain.roles is not None
    async with engine_as(chain, chain.roles.owner) as owner:
        return await owner.set_protocol_fee(1001)


@scenario("NothingToWithdraw")
async def _withdraw_nothing(chain: Devnet) -> object:
    assert chain.roles is not None
    async with engine_as(chain, chain.roles.provers[2]) as prover:
        return await prover.withdraw()


@scenario("TransferFailed")
async def _refused_ether(chain: Devnet) -> object:
    """A requester contract refuses its refund: it is credited (not lost, not blocking), and pulling it
    while still refusing ether fails with TransferFailed."""
    assert chain.roles is not None and chain.deployment is not None
    engine, me = chain.deployment.engine, chain.roles.requesters[2]
    rejecting = deploy(chain, "RejectingRequester", engine)
    w3 = AsyncWeb3(AsyncHTTPProvider(chain.rpc_url))
    try:
        helper = w3.eth.contract(address=rejecting, abi=abi("RejectingRequester"))
        from zkray.chain.txmanager import TxCall

        async with TxManager(w3, me.key) as tx:
            data = bytes.fromhex(helper.encode_abi("request", [image_id()])[2:])
            await tx.send(TxCall(to=rejecting, data=data, value=TIP))
            request_id = await engine_client(chain, w3).request_count()
            await tx.send(TxCall(to=rejecting, data=bytes.fromhex(helper.encode_abi("cancel", [request_id])[2:])))
            assert await engine_client(chain, w3).credits(rejecting) == TIP
            return await tx.send(TxCall(to=rejecting, data=bytes.fromhex(helper.encode_abi("withdraw", [])[2:])))
    finally:
        await w3.provider.disconnect()


def engine_client(chain: Devnet, w3: AsyncWeb3) -> object:
    from zkray.chain.client import EngineClient

    assert chain.deployment is not None
    return EngineClient(w3, chain.deployment.engine)


@scenario("OwnableUnauthorizedAccount")
async def _not_owner(chain: Devnet) -> object:
    assert chain.roles is not None
    async with engine_as(chain, chain.roles.provers[0]) as prover:
        return await prover.pause()


@scenario("EnforcedPause")
async def _paused(chain: Devnet) -> object:
    assert chain.roles is not None
    async with engine_as(chain, chain.roles.owner) as owner:
        await owner.pause()
    return await _request(chain)


@scenario("ExpectedPause")
async def _not_paused(chain: Devnet) -> object:
    assert chain.roles is not None
    async with engine_as(chain, chain.roles.owner) as owner:
        return await owner.unpause()


# ---- ProgramRegistry ----


@scenario("ProgramAlreadyRegistered")
async def _register_twice(chain: Devnet) -> object:
    assert chain.roles is not None and chain.deployment is not None
    dep = chain.deployment
    return await call_as(
        chain,
        chain.roles.owner,
        "ProgramRegistry",
        dep.registry,
        "registerProgram",
        image_id(),
        "x",
        dep.verifier,
        "",
    )


@scenario("ProgramNotRegistered")
async def _unregistered(chain: Devnet) -> object:
    assert chain.deployment is not None
    w3 = AsyncWeb3(AsyncHTTPProvider(chain.rpc_url))
    try:
        return await RegistryClient(w3, chain.deployment.registry).get_program(os.urandom(32))
    finally:
        await w3.provider.disconnect()


@scenario("ZeroVerifier")
async def _zero_verifier(chain: Devnet) -> object:
    assert chain.roles is not None and chain.deployment is not None
    zero = "0x" + "00" * 20
    return await call_as(
        chain,
        chain.roles.owner,
        "ProgramRegistry",
        chain.deployment.registry,
        "updateProgram",
        image_id(),
        zero,
        True,
        "",
    )


# ---- AttestationVerifier: rejected proofs ----


@scenario("MalformedSeal")
async def _short_seal(chain: Devnet) -> object:
    request_id = await _claimed_request(chain)
    return await _submit(chain, request_id, b"\0" * 10, fib_receipt().journal)


@scenario("MalformedSignature")
async def _bad_signature(chain: Devnet) -> object:
    from eth_abi import encode

    receipt = fib_receipt()
    request_id = await _claimed_request(chain)
    seal = encode(["bytes32", "bytes[]"], [receipt.digest(), [b"\1" * 10]])
    return await _submit(chain, request_id, seal, receipt.journal)


@scenario("UnknownAttester")
async def _forged(chain: Devnet) -> object:
    """Signed by keys that are not registered attesters (here: the provers' own)."""
    assert chain.roles is not None
    receipt = fib_receipt()
    request_id = await _claimed_request(chain)
    return await _submit(chain, request_id, attest(chain, receipt, chain.roles.provers[:2]), receipt.journal)


@scenario("SignersNotSorted")
async def _same_attester_twice(chain: Devnet) -> object:
    assert chain.roles is not None
    receipt = fib_receipt()
    request_id = await _claimed_request(chain)
    one = chain.roles.attesters[0]
    return await _submit(chain, request_id, attest(chain, receipt, [one, one]), receipt.journal)


@scenario("BelowThreshold")
async def _under_threshold(chain: Devnet) -> object:
    assert chain.roles is not None
    receipt = fib_receipt()
    request_id = await _claimed_request(chain)
    return await _submit(chain, request_id, attest(chain, receipt, chain.roles.attesters[:1]), receipt.journal)


@scenario("InvalidThreshold")
async def _threshold(chain: Devnet) -> object:
    assert chain.roles is not None and chain.deployment is not None
    return await call_as(chain, chain.roles.owner, "AttestationVerifier", chain.deployment.verifier, "setThreshold", 4)


@scenario("AttesterAlreadyRegistered")
async def _attester_twice(chain: Devnet) -> object:
    assert chain.roles is not None and chain.deployment is not None
    existing = chain.roles.attesters[0].address
    return await call_as(
        chain, chain.roles.owner, "AttestationVerifier", chain.deployment.verifier, "addAttester", existing
    )


@scenario("AttesterNotRegistered")
async def _remove_unknown(chain: Devnet) -> object:
    assert chain.roles is not None and chain.deployment is not None
    stranger = chain.roles.spare[0].address
    return await call_as(
        chain, chain.roles.owner, "AttestationVerifier", chain.deployment.verifier, "removeAttester", stranger
    )


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_custom_error_is_reached_and_typed(chain: Devnet, name: str) -> None:
    expected = errors.error_classes()[name]
    with pytest.raises(expected) as caught:
        await SCENARIOS[name](chain)
    assert caught.value.name == name
    assert str(caught.value)  # carries the decoded arguments and a hint


def test_every_declared_custom_error_has_a_scenario() -> None:
    declared = {
        e["name"]
        for contract in ("ExecutionEngine", "ProgramRegistry", "AttestationVerifier")
        for e in abi(contract)
        if e["type"] == "error"
    }
    assert declared - UNREACHABLE == set(SCENARIOS)


# ---- attestations that must not verify ----


async def test_attestation_over_another_journal_is_rejected(chain: Devnet) -> None:
    receipt = fib_receipt()
    request_id = await _claimed_request(chain)
    with pytest.raises(errors.UnknownAttester):
        await _submit(chain, request_id, attest(chain, receipt), receipt.journal + b"\0")


async def test_attestation_for_another_image_id_is_rejected(chain: Devnet) -> None:
    """A valid fib proof does not complete a job for the other built-in guest."""
    receipt = fib_receipt()
    request_id = await _claimed_request(chain, image=image_id("fib_input_initial"))
    with pytest.raises(errors.UnknownAttester):
        await _submit(chain, request_id, attest(chain, receipt), receipt.journal)


async def test_attestation_for_another_chain_or_verifier_is_rejected(chain: Devnet) -> None:
    assert chain.roles is not None and chain.deployment is not None
    receipt = fib_receipt()
    request_id = await _claimed_request(chain)
    signed = [
        Attester(a.key).sign(
            Statement.of(receipt), chain_id=chain.deployment.chain_id + 1, verifier=chain.deployment.verifier
        )
        for a in chain.roles.attesters[:2]
    ]
    with pytest.raises(errors.UnknownAttester):
        await _submit(chain, request_id, encode_seal(signed), receipt.journal)


def test_attester_refuses_a_tampered_receipt(devnet: Devnet) -> None:
    from zkray import VerificationError

    assert devnet.roles is not None and devnet.deployment is not None
    receipt = fib_receipt()
    tampered = Receipt(image_id=receipt.image_id, journal=receipt.journal[:-1] + b"\x07", seal=receipt.seal)
    with pytest.raises(VerificationError):
        Attester(devnet.roles.attesters[0].key).attest(
            tampered, chain_id=devnet.deployment.chain_id, verifier=devnet.deployment.verifier
        )
