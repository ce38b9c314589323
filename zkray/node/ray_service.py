"""The node's `ProvingService`: Bonsai API sessions proved on Ray through the node's own prover.

A session is executed first (in a worker thread: the guest's witness or the RV32IM executor, the cycle
limit checked), then, unless execute-only, proved by the node's `ProverService`: the same `ProvingPool`
(remote → GPU → CPU fallback, hung-task kills, retries), the same circuit breakers and the same proof
cache (key: image id and SHA-256 of the input, as on-chain jobs) as the chain jobs. Admission follows the
node's degradation mode: while the scheduler admits no new jobs (MINIMAL, UNAVAILABLE), `submit` answers
`ServiceBusy` (503), so a failing node stops taking API work exactly as it stops taking chain jobs.

This class keeps its sessions in memory, for a proving pool without a node (tests, a bare cluster).
Inside a node, `zkray.node.api_jobs.NodeProvingService` (a subclass) puts every session on the node's
scheduler queue as a journaled job, so sessions share admission and the queue with chain jobs and
survive a restart.

Images, the session table, status, logs, receipts and the bounds on them are `LocalProvingService`'s;
only what a session does, and how it is stopped, differ.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Any, Protocol

from zkray.api.errors import ServiceBusy
from zkray.api.local_service import LocalProvingService, _Session
from zkray.api.local_work import Outcome, Work, run
from zkray.api.service import SessionRequest, SessionStats, SessionStatus, SessionView
from zkray.node.proving import PROVERS, ProveFailed, ProveRequest
from zkray.zkvm.errors import ZkvmError
from zkray.zkvm.receipt import Receipt

MiB = 1024 * 1024
JOB_PREFIX = "api:"


class Prover(Protocol):
    """What the service needs of the node's `zkray.node.prover.ProverService` (its `run` loop must be going)."""

    async def prove(self, request: ProveRequest, *, image_id: str, input_digest: str, cycles: int) -> bytes: ...

    def cancel(self, job_id: str) -> None: ...


Admission = Callable[[], str | None]
"""None while new work is admitted, else the reason it is not (the degradation mode's)."""


def scheduler_admission(scheduler: Any) -> Admission:
    """Admission from a `JobScheduler`: closed whenever its mode's flags refuse new jobs."""

    def closed() -> str | None:
        if scheduler.flags().accept_new_jobs:
            return None
        snap = scheduler.snapshot()
        return f"the node is {snap['mode']} ({snap['mode_reason']}) and takes no new work"

    return closed


class RayProvingService(LocalProvingService):
    """Bonsai sessions on the node's Ray proving pool; implements `zkray.api.service.ProvingService`."""

    def __init__(
        self,
        prover: Prover,
        *,
        admission: Admission | None = None,
        max_concurrent: int = 4,
        max_sessions: int = 10_000,
        session_timeout_s: float = 600.0,
        max_image_bytes: int = 256 * MiB,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(max_concurrent=max_concurrent, max_sessions=max_sessions,
                         session_timeout_s=session_timeout_s, max_image_bytes=max_image_bytes, clock=clock)  # fmt: skip
        self._prover = prover
        self._admission = admission or (lambda: None)
        self.proofs = 0  # sessions proved (cumulative, for the node's metrics)
        self.cycles_proved = 0
        self._proving: set[str] = set()  # job ids with a proof in the pool now

    def session_ids(self) -> list[str]:
        """Ids of the sessions remembered now, oldest first."""
        return list(self._sessions)

    def proving_now(self) -> list[str]:
        """Job ids (`api:<session>`) of the sessions whose proof is in the pool now."""
        return sorted(self._proving)

    async def submit(self, request: SessionRequest) -> str:
        closed = self._admission()
        if closed is not None:
            raise ServiceBusy(f"{closed}; retry later")
        return await super().submit(request)

    async def stop(self, session_id: str) -> SessionView:
        view = await super().stop(session_id)
        self._prover.cancel(JOB_PREFIX + session_id)  # kills its prove task if one is running
        return view

    async def close(self) -> None:
        for sid in list(self._sessions):
            self._prover.cancel(JOB_PREFIX + sid)
        await super().close()

    async def _run(self, s: _Session, work: Work) -> None:
        session_id = next((sid for sid, x in self._sessions.items() if x is s), "")
        async with self._slots:
            if s.status is not SessionStatus.RUNNING:
                return  # stopped while queued
            remaining = self._timeout_s - (self._clock() - s.created)
            if remaining <= 0:
                why = f"the session waited past its {self._timeout_s:g} s limit in the queue; the node is overloaded"
                self._finish(s, SessionStatus.TIMED_OUT, why + ", retry later")
                return
            try:
                outcome = await asyncio.wait_for(self._execute_and_prove(s, session_id, work), remaining)
            except TimeoutError:
                self._prover.cancel(JOB_PREFIX + session_id)
                self._finish(s, SessionStatus.TIMED_OUT, f"the session ran past its {self._timeout_s:g} s limit")
            except ProveFailed as e:
                self._finish(s, SessionStatus.FAILED, f"proving failed on the cluster: {e}")
            except ZkvmError as e:
                self._finish(s, SessionStatus.FAILED, str(e))
            except Exception as e:  # a bug must fail the session, not the service
                self._finish(s, SessionStatus.FAILED, f"internal prover error {type(e).__name__}: {e}")
            else:
                if outcome.receipt is not None and s.status is SessionStatus.RUNNING:
                    self.proofs += 1
                    self.cycles_proved += outcome.stats.cycles
                self._finish(s, SessionStatus.SUCCEEDED, None, outcome)

    async def _execute_and_prove(self, s: _Session, session_id: str, work: Work) -> Outcome:
        def progress(state: str, line: str) -> None:
            s.state = state
            s.log.append(line)

        s.state = "Executor"
        dry = Work(work.input, True, work.cycle_limit, builtin=work.builtin, elf=work.elf)
        loop = asyncio.get_running_loop()
        executed: Outcome = await loop.run_in_executor(self._pool, run, dry, progress, None)
        if work.execute_only:
            return executed
        if work.builtin is None and "elf" not in PROVERS:
            raise ZkvmError("this node cannot prove uploaded ELF guests yet (no RV32IM proving backend is "
                            "installed); run the session with execute_only, or use a built-in guest")  # fmt: skip
        return await self._prove(s, session_id, work, executed.stats)

    async def _prove(self, s: _Session, session_id: str, work: Work, stats: SessionStats) -> Outcome:
        job_id = JOB_PREFIX + session_id
        kind, program = ("builtin", work.builtin) if work.builtin is not None else ("elf", work.elf)
        request = ProveRequest(job_id, program, work.input, kind=kind, image_id=s.request.image_id)
        s.state = "ProveSegments: 0/1"
        s.log.append(f"prover: job {job_id} sent to the node's proving pool (Ray)")
        self._proving.add(job_id)
        try:
            receipt = await self._prover.prove(
                request, image_id="0x" + s.request.image_id.hex(),
                input_digest="0x" + hashlib.sha256(work.input).hexdigest(), cycles=stats.cycles,
            )  # fmt: skip
        finally:
            self._proving.discard(job_id)
        s.state = "Finalize"
        s.log.append(f"prover: verified receipt of {len(receipt)} bytes")
        journal = Receipt.decode(receipt).journal
        return Outcome(journal, stats, receipt)
