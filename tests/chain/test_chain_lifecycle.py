"""The engine's job lifecycle against a real anvil, with real STARK receipts and real attestations."""

from __future__ import annotations

import asyncio
import hashlib

from chain_support import (
    TIP,
    attest,
    balance,
    deploy,
    engine_as,
    events_named,
    fib_receipt,
    image_id,
)

from zkray.chain.client import RequestStatus
from zkray.chain.devnet import Devnet
from zkray.chain.errors import AlreadyClaimed, ReentrancyGuardReentrantCall, TxReverted, decode_revert

DECAY = 30 * 60
CLAIM_WINDOW = 10 * 60


async def test_request_claim_submit_pays_decayed_tip_minus_fee_and_refunds_the_rest(chain: Devnet) -> None:
    receipt = fib_receipt()
    roles, dep = chain.roles, chain.deployment
    assert roles is not None and dep is not None
    async with (
        engine_as(chain, roles.requesters[0]) as requester,
        engine_as(chain, roles.provers[0]) as prover,
    ):
        request_id, _ = await requester.request_execution(
            receipt.image_id,
            hashlib.sha256(b"n=10").digest(),
            "data:,10",
            tip=TIP,
            callback=dep.recording_callback,
        )
        job = await requester.get_request(request_id)
        assert job.status is RequestStatus.PENDING and job.tip == TIP
        assert job.expires_at - job.created_at == 3600  # default expiry
        assert request_id in await requester.get_pending_requests(0, 10)

        chain.set_next_timestamp(job.created_at + DECAY // 2 - 100)
        await prover.claim_execution(request_id)
        assert (await prover.get_request(request_id)).claimant == roles.provers[0].address
        assert request_id not in await prover.get_pending_requests(0, 10)

        seal = attest(chain, receipt)
        prover_before = await balance(prover.w3, roles.provers[0].address)
        requester_before = await balance(prover.w3, roles.requesters[0].address)
        chain.set_next_timestamp(job.created_at + DECAY // 2)  # half-way: 3/4 of the tip
        outcome = await prover.submit_proof(request_id, seal, receipt.journal)

        payout = TIP - TIP * (DECAY // 2) // (2 * DECAY)
        assert payout == TIP * 3 // 4
        fee = payout * 250 // 10_000
        completed = events_named(prover, outcome.logs, "ExecutionCompleted")
        assert completed == [
            {
                "requestId": request_id,
                "prover": roles.provers[0].address,
                "journalDigest": receipt.journal_digest(),
                "payout": payout,
            }
        ]
        assert await balance(prover.w3, roles.provers[0].address) == prover_before + payout - fee - outcome.cost
        assert await balance(prover.w3, roles.requesters[0].address) == requester_before + TIP - payout
        assert await prover.accrued_fees() == fee
        assert await balance(prover.w3, dep.engine) == fee  # nothing stranded in the engine
        stats = await prover.get_prover_stats(roles.provers[0].address)
        assert (stats.claims, stats.completions, stats.earned) == (1, 1, payout - fee)
        assert (await prover.get_request(request_id)).status is RequestStatus.COMPLETED

        # The callback received the journal.
        cb = prover.w3.eth.contract(address=dep.recording_callback, abi=_abi("RecordingCallback"))
        assert await cb.functions.lastJournal().call() == receipt.journal
        assert await cb.functions.lastRequestId().call() == request_id


async def test_tip_decays_to_half_and_stays_there(chain: Devnet) -> None:
    roles = chain.roles
    assert roles is not None
    async with engine_as(chain, roles.requesters[0]) as requester:
        request_id, _ = await requester.request_execution(image_id(), b"\0" * 32, "", tip=TIP, expiration_s=7200)
        created = (await requester.get_request(request_id)).created_at
        for elapsed in (1, DECAY // 3, DECAY - 1, DECAY, DECAY * 2):
            chain.set_next_timestamp(created + elapsed)
            chain.mine()
            expected = TIP - TIP * elapsed // (2 * DECAY) if elapsed < DECAY else TIP // 2
            assert await requester.get_current_tip(request_id) == expected


async def test_reverting_callback_emits_callback_failed_and_the_prover_is_still_paid(chain: Devnet) -> None:
    receipt = fib_receipt()
    roles, dep = chain.roles, chain.deployment
    assert roles is not None and dep is not None
    async with (
        engine_as(chain, roles.requesters[0]) as requester,
        engine_as(chain, roles.provers[0]) as prover,
    ):
        request_id, _ = await requester.request_execution(
            receipt.image_id, b"\1" * 32, "ipfs://x", tip=TIP, callback=dep.reverting_callback
        )
        await prover.claim_execution(request_id)
        outcome = await prover.submit_proof(request_id, attest(chain, receipt), receipt.journal)
        failed = events_named(prover, outcome.logs, "CallbackFailed")
        assert len(failed) == 1 and failed[0]["callback"] == dep.reverting_callback
        # The revert reason is RevertingCallback.CallbackRejected(requestId).
        assert failed[0]["reason"][4:] == request_id.to_bytes(32, "big")
        assert (await prover.get_request(request_id)).status is RequestStatus.COMPLETED


async def test_cancel_refunds_the_whole_tip(chain: Devnet) -> None:
    roles = chain.roles
    assert roles is not None
    async with engine_as(chain, roles.requesters[1]) as requester:
        request_id, _ = await requester.request_execution(image_id(), b"\2" * 32, "", tip=TIP, input_type=1)
        assert (await requester.get_request(request_id)).input_type == 1
        before = await balance(requester.w3, roles.requesters[1].address)
        outcome = await requester.cancel_execution(request_id)
        assert events_named(requester, outcome.logs, "ExecutionCancelled")[0]["refund"] == TIP
        assert await balance(requester.w3, roles.requesters[1].address) == before + TIP - outcome.cost
        assert (await requester.get_request(request_id)).status is RequestStatus.CANCELLED
        assert request_id not in await requester.get_pending_requests(0, 100)


async def test_an_expired_claim_is_taken_over_by_a_second_prover(chain: Devnet) -> None:
    receipt = fib_receipt()
    roles = chain.roles
    assert roles is not None
    first, second = roles.provers[0], roles.provers[1]
    async with (
        engine_as(chain, roles.requesters[0]) as requester,
        engine_as(chain, first) as slow,
        engine_as(chain, second) as fast,
    ):
        request_id, _ = await requester.request_execution(receipt.image_id, b"\3" * 32, "", tip=TIP)
        await slow.claim_execution(request_id)
        deadline = (await slow.get_request(request_id)).claim_deadline
        chain.set_next_timestamp(deadline + 1)
        chain.mine()
        outcome = await fast.claim_execution(request_id)
        assert events_named(fast, outcome.logs, "ClaimExpired") == [{"requestId": request_id, "prover": first.address}]
        assert (await fast.get_request(request_id)).claimant == second.address
        await fast.submit_proof(request_id, attest(chain, receipt), receipt.journal)
        assert (await fast.get_prover_stats(first.address)).expired_claims == 1
        assert (await fast.get_prover_stats(second.address)).completions == 1


async def test_report_bad_proof_resets_a_missed_claim_to_pending(chain: Devnet) -> None:
    roles = chain.roles
    assert roles is not None
    async with (
        engine_as(chain, roles.requesters[0]) as requester,
        engine_as(chain, roles.provers[0]) as prover,
    ):
        request_id, _ = await requester.request_execution(image_id(), b"\4" * 32, "", tip=TIP)
        await prover.claim_execution(request_id)
        chain.increase_time(CLAIM_WINDOW + 1)
        outcome = await requester.report_bad_proof(request_id)
        reported = events_named(requester, outcome.logs, "BadProofReported")
        assert reported == [
            {
                "requestId": request_id,
                "prover": roles.provers[0].address,
                "reporter": roles.requesters[0].address,
            }
        ]
        job = await requester.get_request(request_id)
        assert job.status is RequestStatus.PENDING and job.claimant is None
        assert request_id in await requester.get_pending_requests(0, 100)


async def test_claim_retry_does_not_resend_a_claim_that_already_landed(chain: Devnet) -> None:
    roles = chain.roles
    assert roles is not None
    async with (
        engine_as(chain, roles.requesters[0]) as requester,
        engine_as(chain, roles.provers[0]) as prover,
    ):
        request_id, _ = await requester.request_execution(image_id(), b"\5" * 32, "", tip=TIP)
        first = await prover.claim_execution(request_id)
        assert not first.already_done
        again = await prover.claim_execution(request_id)  # e.g. a restarted node repeating its work
        assert again.already_done and again.tx_hash is None


def _abi(name: str) -> list[dict[str, object]]:
    from zkray.chain.artifacts import abi

    return abi(name)


async def test_a_reentrant_callback_is_stopped_by_the_guard_and_reported(chain: Devnet) -> None:
    receipt = fib_receipt()
    roles = chain.roles
    assert roles is not None
    reentrant = deploy(chain, "ReentrantCallback")
    async with engine_as(chain, roles.requesters[0]) as requester, engine_as(chain, roles.provers[0]) as prover:
        request_id, _ = await requester.request_execution(receipt.image_id, b"\6" * 32, "", tip=TIP, callback=reentrant)
        await prover.claim_execution(request_id)
        outcome = await prover.submit_proof(request_id, attest(chain, receipt), receipt.journal)
        [failed] = events_named(prover, outcome.logs, "CallbackFailed")
        assert isinstance(decode_revert(failed["reason"]), ReentrancyGuardReentrantCall)
        assert (await prover.get_request(request_id)).status is RequestStatus.COMPLETED


async def test_the_loser_of_a_claim_race_gets_the_decoded_revert(chain: Devnet) -> None:
    """Two provers claim in the same block: both estimates pass, one claim lands, the other reverts
    on-chain, and its error says who holds the claim."""
    roles = chain.roles
    assert roles is not None
    async with (
        engine_as(chain, roles.requesters[0]) as requester,
        engine_as(chain, roles.provers[0]) as first,
        engine_as(chain, roles.provers[1]) as second,
    ):
        request_id, _ = await requester.request_execution(image_id(), b"\7" * 32, "", tip=TIP)
        chain.rpc("evm_setAutomine", False)
        claims = [asyncio.create_task(c.claim_execution(request_id)) for c in (first, second)]
        for _ in range(500):  # bounded: wait until both claims are in the pool
            if int(str(chain.rpc("txpool_status")["pending"]), 0) == 2:
                break
            await asyncio.sleep(0.01)
        chain.mine()
        results = await asyncio.wait_for(asyncio.gather(*claims, return_exceptions=True), 30)
        [won] = [r for r in results if not isinstance(r, BaseException)]
        [lost] = [r for r in results if isinstance(r, BaseException)]
        assert won.block_number and isinstance(lost, TxReverted)
        assert isinstance(lost.cause, AlreadyClaimed)
        winner = (await first.get_request(request_id)).claimant
        assert lost.cause.args_by_name["claimant"].lower() == str(winner).lower()
