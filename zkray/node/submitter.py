"""Getting paid for a proof: attest it, then submit it, never twice.

Before the first attempt and before every retry the job is read on-chain: completed by us (an earlier
attempt, or a run before a crash, landed) → record the payout and stop; completed by someone else, or
the claim no longer ours → stop, nothing to send. Only a job still claimed by us is submitted. Retries
follow the submission policy (10 tries, 1 s → 60 s by default), never past the claim deadline.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from actors.breakers import ATTESTER, CircuitBreakers
from zkray.attest import Attester, encode_seal
from zkray.chain.client import RequestStatus
from zkray.chain.errors import ContractError, TxReverted
from zkray.node.chain_access import ChainAccess, Completion
from zkray.policy.retry import Retrier, RetryPolicy
from zkray.zkvm.receipt import Receipt


class Settled(StrEnum):
    """How a submission ended."""

    PAID = "paid"  # completed by us: payout recorded
    TAKEN = "taken"  # completed by another prover, or our claim lapsed: nothing to send
    CANCELLED = "cancelled"
    GAVE_UP = "gave_up"  # retries exhausted; the job stays PROVED and is tried again later


@dataclass(frozen=True)
class SubmitResult:
    settled: Settled
    reason: str
    completion: Completion | None = None
    sent: int = 0  # submitProof transactions this call broadcast


class AttestationService:
    """Signs verified receipts with the attester keys this node holds (threshold-many are needed)."""

    def __init__(self, attesters: Sequence[Attester], chain_id: int, verifier: str, breakers: CircuitBreakers) -> None:
        self.attesters = list(attesters)
        self.chain_id = chain_id
        self.verifier = verifier
        self.breakers = breakers

    async def seal(self, receipt: Receipt) -> bytes:
        """Verify (inside each Attester) and sign; the seal carries the signatures, not the STARK."""
        try:
            signed = await asyncio.to_thread(
                lambda: [a.attest(receipt, chain_id=self.chain_id, verifier=self.verifier) for a in self.attesters]
            )
        except Exception:
            self.breakers.record(ATTESTER, False)
            raise
        self.breakers.record(ATTESTER, True)
        return encode_seal(signed)


class Submitter:
    """Submits a job's proof with the submission retry policy and an on-chain check before each try."""

    def __init__(self, chain: ChainAccess, attestation: AttestationService, policy: RetryPolicy) -> None:
        self.chain = chain
        self.attestation = attestation
        self.policy = policy
        self.sent = 0
        self._rng = random.Random()

    async def settled(self, request_id: int) -> SubmitResult | None:
        """The job's outcome if the chain already decided it (so there is nothing to send), else None."""
        state = await self.chain.job_state(request_id)
        me = self.chain.address
        if state.status is RequestStatus.COMPLETED:
            done = await self.chain.completion(request_id)
            if done is not None and done.prover == me:
                return SubmitResult(Settled.PAID, "already completed by this node", done)
            who = done.prover if done is not None else "another prover"
            return SubmitResult(Settled.TAKEN, f"completed by {who} first; not submitted again", done)
        if state.status is RequestStatus.CANCELLED:
            return SubmitResult(Settled.CANCELLED, "cancelled by the requester")
        if state.status is not RequestStatus.CLAIMED or state.claimant != me:
            return SubmitResult(Settled.TAKEN, f"our claim is gone (status {state.status.name}); not submitted")
        if state.claim_deadline <= await self.chain.chain_time():
            return SubmitResult(Settled.TAKEN, "our claim deadline passed before submission")
        return None

    async def submit(self, request_id: int, receipt_bytes: bytes, deadline: float | None) -> SubmitResult:
        """Attest and submit; every try is preceded by `settled` (never a second submitProof for a job)."""
        receipt = Receipt.decode(receipt_bytes)
        retrier = Retrier(self.policy, self._rng, give_up_at=deadline)
        seal: bytes | None = None
        sent = 0
        while True:
            try:
                done = await self.settled(request_id)
                if done is not None:
                    return SubmitResult(done.settled, done.reason, done.completion, sent)
                if seal is None:
                    seal = await self.attestation.seal(receipt)
                sent += 1
                self.sent += 1
                outcome = await self.chain.submit(request_id, seal, receipt.journal)
                if outcome.already_done:  # nothing was broadcast this time
                    sent -= 1
                    self.sent -= 1
                completion = self.chain.completion_in(outcome)
                if completion is not None:
                    return SubmitResult(Settled.PAID, "submitted", completion, sent)
                # The effect check saw it completed (an earlier attempt landed): `settled` says by whom next
                # turn. Counted as a try, so even a chain that says nothing consistent ends the loop.
                error: Exception = _Retry("submission reported done without an ExecutionCompleted event")
            except (TxReverted, ContractError) as exc:
                error = exc  # e.g. NotClaimant after a lapse: the next `settled` explains it
            except Exception as exc:  # every failure goes through the retry policy
                error = exc
            decision = retrier.on_failure(_retryable(error), time.time())
            if not decision.retry:
                try:
                    done = await self.settled(request_id)
                except Exception:  # the chain is unreachable: leave the job PROVED
                    done = None
                if done is not None:
                    return SubmitResult(done.settled, done.reason, done.completion, sent)
                return SubmitResult(Settled.GAVE_UP, decision.reason, None, sent)
            await asyncio.sleep(max(0.0, decision.at - time.time()))


class _Retry(Exception):
    retryable = True


def _retryable(error: Exception) -> Exception:
    """Submission failures are worth retrying (after the on-chain check) unless the chain says otherwise:
    a revert is re-examined by `settled` on the next turn, which ends the loop when the job is decided."""
    if getattr(error, "retryable", None) is False:
        return error
    wrapped = _Retry(str(error))
    wrapped.__cause__ = error
    return wrapped
