"""Bonsai API sessions as jobs of the node: on the scheduler's queue, in the journal, across restarts.

`NodeProvingService` is the node's `ProvingService` when its API is open. A session is offered to the
node's scheduler as job `api:<session id>` (source "api"): the same admission (closed in MINIMAL and
UNAVAILABLE modes, a bounded queue scored by the same rules), the same dispatcher and
`max_jobs_in_flight`, the same proof cache, breakers and Ray proving pool, and every step is a guarded
journal transition. The input is written to `<data_dir>/api/<session>.input` (fsynced) before the offer,
so a session created before a restart is resumed after it: the journal is the session table.

An API job walks the one state machine of `zkray.policy.jobs`, with nothing on-chain:

    QUEUED → FETCHING (dispatched) → PREFLIGHT (executed: cycles, cycle limit) → CLAIMING → CLAIMED
    (a prove slot is committed; there is nothing to claim) → PROVING → PROVED (the receipt, or for an
    execute-only session its journal, stored in the same transaction) → COMPLETED

and a session's status is read from its job: COMPLETED → SUCCEEDED, FAILED or SKIPPED (evicted from a full
queue) → FAILED, EXPIRED (past `api_session_timeout_s`) → TIMED_OUT, CANCELLED (stopped) → ABORTED,
anything else RUNNING. What cannot be resumed ends FAILED with the reason (an uploaded ELF is kept in
memory only: a session of one, interrupted by a restart, asks for the upload again) — never lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from actors.scheduler import Admission as Offered
from actors.scheduler import JobOffer
from zkray.api.errors import ImageMissing, ReceiptMissing, ServiceBusy, SessionMissing
from zkray.api.local_work import Outcome, Work, run
from zkray.api.service import SessionRequest, SessionStats, SessionStatus, SessionView
from zkray.node.proving import PROVERS, ProveFailed, ProveRequest
from zkray.node.ray_service import JOB_PREFIX, Admission, RayProvingService
from zkray.node.stages import scheduler_change as change
from zkray.policy.compression import Purpose, compress, decompress
from zkray.policy.jobs import FINAL, JobStatus
from zkray.store import JobRecord, StatusConflict
from zkray.zkvm.errors import ZkvmError
from zkray.zkvm.receipt import Receipt

S = JobStatus
log = logging.getLogger("zkray.node.api")
SOURCE = "api"
STORED = "API session: receipt stored"
API_TIP_WEI = 10**16  # what a session weighs in the queue's score: a demo job's tip (0.01 ETH)

_STATE = {S.DISCOVERED: "Queued", S.QUEUED: "Queued", S.FETCHING: "Executor", S.PREFLIGHT: "Executor",
          S.CLAIMING: "ProveSegments: 0/1", S.CLAIMED: "ProveSegments: 0/1", S.PROVING: "ProveSegments: 0/1",
          S.PROVED: "Finalize", S.SUBMITTING: "Finalize"}  # fmt: skip
_FINAL = {S.COMPLETED: SessionStatus.SUCCEEDED, S.FAILED: SessionStatus.FAILED, S.SKIPPED: SessionStatus.FAILED,
          S.EXPIRED: SessionStatus.TIMED_OUT, S.CANCELLED: SessionStatus.ABORTED}  # fmt: skip


def session_of(job_id: str) -> str:
    return job_id.removeprefix(JOB_PREFIX)


class NodeProvingService(RayProvingService):
    """API sessions on the node's scheduler queue; `node` is a built `zkray.node.pipeline.Node`."""

    def __init__(
        self, node: Any, *, admission: Admission | None = None, session_timeout_s: float = 600.0,
        tip_wei: int = API_TIP_WEI, **options: Any,
    ) -> None:  # fmt: skip
        super().__init__(node.prover, admission=admission, session_timeout_s=session_timeout_s, **options)
        self._node = node
        self._tip_wei = tip_wei
        self._dir = Path(node.settings.data_dir) / "api"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._log: dict[str, list[str]] = {}  # progress lines of sessions run by this process (bounded below)
        self._sweep_inputs()
        node.attach_api(self)

    def _sweep_inputs(self) -> None:
        """Inputs of sessions that ended without their task (evicted, expired in the queue, failed at a
        restart) are removed at the next start; those of sessions still to run stay."""
        for path in self._dir.glob("*.input"):
            job = self._node.journal.find(JOB_PREFIX + path.stem)
            if job is None or job.status in FINAL | {S.SKIPPED}:
                path.unlink(missing_ok=True)

    # ---- sessions: created here, run by the node's dispatcher --------------------------------------

    async def submit(self, request: SessionRequest) -> str:
        closed = self._admission()
        if closed is not None:
            raise ServiceBusy(f"{closed}; retry later")
        builtin, elf = self._builtins.get(request.image_id), self._images.get(request.image_id)
        if builtin is None and elf is None:
            raise ImageMissing(f"image {request.image_id.hex()} is neither a built-in guest nor uploaded; "
                               "upload the ELF first")  # fmt: skip
        session_id = str(uuid.uuid4())
        path = self._dir / f"{session_id}.input"
        await asyncio.to_thread(_write_durably, path, request.input)
        now = time.time()
        offer = JobOffer(
            job_id=JOB_PREFIX + session_id, source=SOURCE, image_id="0x" + request.image_id.hex(),
            input_url=path.as_uri(), input_digest="0x" + hashlib.sha256(request.input).hexdigest(),
            tip_wei=self._tip_wei, requested_at=now, expires_at=now + self._timeout_s,
            payload={"owner": request.owner, "execute_only": request.execute_only,
                     "cycle_limit": request.cycle_limit, "builtin": builtin},
            cycles=self._node.estimates.estimate(request.image_id.hex(), hashlib.sha256(request.input).hexdigest()),
        )  # fmt: skip
        result = await _ask(self._node.scheduler, "offer", offer)
        if result.admission is not Offered.QUEUED:
            path.unlink(missing_ok=True)
            raise ServiceBusy(f"the node's queue did not take the session ({result.reason}); retry later")
        only = " (execute only)" if request.execute_only else ""
        self._lines(session_id).append(f"session created for image {request.image_id.hex()}{only}; queued on the node")
        self._node.wake()
        return session_id

    def _lines(self, session_id: str) -> list[str]:
        lines = self._log.get(session_id)
        if lines is None:
            while len(self._log) >= self._max_sessions:
                self._log.pop(next(iter(self._log)))
            lines = self._log[session_id] = []
        return lines

    async def run_job(self, job: JobRecord) -> None:
        """One session's work, entered by its job's status (a restarted node resumes it where it stood)."""
        sid = session_of(job.id)
        lines = self._lines(sid)
        scheduler = self._node.scheduler
        try:
            remaining = job.expires_at - time.time()
            if remaining <= 0:
                raise TimeoutError
            await asyncio.wait_for(self._steps(job, sid, lines), remaining)
        except TimeoutError:
            await self._end(job.id, S.EXPIRED, f"the session ran past its {self._timeout_s:g} s limit")
            self._prover.cancel(job.id)
        except ProveFailed as e:
            await self._end(job.id, S.FAILED, f"proving failed on the cluster: {e}")
        except (ZkvmError, _Unresumable) as e:
            await self._end(job.id, S.FAILED, str(e))
        except StatusConflict:
            raise  # stopped (CANCELLED) meanwhile: the node's guard logs it
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug must fail the session, not the node
            await self._end(job.id, S.FAILED, f"internal prover error {type(e).__name__}: {e}")
        finally:
            record = await _ask(scheduler, "job", job.id)
            if record is not None and record.status in FINAL | {S.SKIPPED}:
                (self._dir / f"{sid}.input").unlink(missing_ok=True)
                lines.append(f"session {_FINAL[record.status].value}" + (f": {record.error}" if record.error else ""))

    async def _steps(self, job: JobRecord, sid: str, lines: list[str]) -> None:
        scheduler = self._node.scheduler
        status = job.status
        if status in (S.PROVED, S.SUBMITTING):
            await change(scheduler, "move", job.id, S.COMPLETED, expected=status, detail=STORED)
            return
        work = self._work(job, sid)
        executed: Outcome | None = None
        if status is S.FETCHING:
            executed = await self._execute(work, lines)
            cycles = executed.stats.cycles
            await change(scheduler, "move", job.id, S.PREFLIGHT, expected=S.FETCHING, cycles=cycles)
            await change(scheduler, "move", job.id, S.CLAIMING, expected=S.PREFLIGHT)
            status = S.CLAIMING
        else:
            cycles = job.cycles or 0
        if status is S.CLAIMING:
            slot = "API session: a prove slot, no claim"
            await change(scheduler, "move", job.id, S.CLAIMED, expected=S.CLAIMING, detail=slot)
        elif status is S.PROVING:
            await change(scheduler, "work_lost", job.id, "resumed after the node restarted")
        record = await change(scheduler, "move", job.id, S.PROVING, expected=S.CLAIMED)
        if work.execute_only:
            executed = executed or await self._execute(work, lines)  # again only when resumed after a restart
            stored = b"J" + executed.journal  # an execute-only session keeps its journal, no receipt
        else:
            lines.append(f"prover: job {job.id} sent to the node's proving pool (Ray)")
            self._proving.add(job.id)
            try:
                receipt = await self._prover.prove(
                    _request(job.id, work, record), image_id=record.image_id, input_digest=record.input_digest,
                    cycles=cycles,
                )  # fmt: skip
            finally:
                self._proving.discard(job.id)
            lines.append(f"prover: verified receipt of {len(receipt)} bytes")
            self.proofs += 1
            self.cycles_proved += cycles
            stored = b"R" + receipt
        await change(scheduler, "store_proof", job.id, compress(stored, Purpose.SIZE))
        await change(scheduler, "move", job.id, S.COMPLETED, expected=S.PROVED, detail=STORED)

    def _work(self, job: JobRecord, sid: str) -> Work:
        builtin = job.payload.get("builtin")
        elf = None
        if builtin is None:
            if "elf" not in PROVERS and not job.payload.get("execute_only"):
                raise ZkvmError("this node cannot prove uploaded ELF guests yet (no RV32IM proving backend is "
                                "installed); run the session with execute_only, or use a built-in guest")  # fmt: skip
            elf = self._images.get(bytes.fromhex(job.image_id.removeprefix("0x")))
            if elf is None:
                raise _Unresumable(f"image {job.image_id} is not on this node any more (uploaded ELFs are kept in "
                                   "memory; the node restarted): upload it again and create a new session")  # fmt: skip
        path = self._dir / f"{sid}.input"
        try:
            data = path.read_bytes()
        except OSError as e:
            raise _Unresumable(f"the session's input is gone from {path} ({e}); create a new session") from e
        return Work(data, bool(job.payload.get("execute_only")), job.payload.get("cycle_limit"), builtin=builtin,
                    elf=elf)  # fmt: skip

    async def _execute(self, work: Work, lines: list[str]) -> Outcome:
        dry = Work(work.input, True, work.cycle_limit, builtin=work.builtin, elf=work.elf)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, run, dry, lambda _s, line: lines.append(line), None)

    async def _end(self, job_id: str, status: JobStatus, why: str) -> None:
        record = await _ask(self._node.scheduler, "job", job_id)
        if record is None or record.status in FINAL or record.status is status:
            return
        await change(self._node.scheduler, "move", job_id, status, expected=record.status, error=why)

    def resume(self, job: JobRecord) -> Any:
        """The node's recovery and reaper hand an API job no task works on back here (a coroutine)."""
        return self.run_job(job)

    # ---- what the API reads: the journal is the session table ---------------------------------------

    def _job(self, session_id: str) -> JobRecord:
        record = self._node.journal.find(JOB_PREFIX + session_id)
        if record is None or record.source != SOURCE:
            raise SessionMissing(f"no session {session_id}")
        return record

    async def status(self, session_id: str) -> SessionView:
        job = self._job(session_id)
        status = _FINAL.get(job.status, SessionStatus.RUNNING)
        end = job.updated_at if status is not SessionStatus.RUNNING else time.time()
        stats = None
        if job.status is S.COMPLETED and job.cycles is not None:
            stats = SessionStats(segments=1, total_cycles=job.cycles, cycles=job.cycles)
        return SessionView(
            session_id=session_id, owner=str(job.payload.get("owner", "")), status=status,
            state=_STATE.get(job.status, ""), elapsed_s=max(0.0, end - job.created_at),
            execute_only=bool(job.payload.get("execute_only")), error=job.error if status is not
            SessionStatus.SUCCEEDED else None, stats=stats,
        )  # fmt: skip

    async def logs(self, session_id: str) -> str:
        self._job(session_id)
        lines = list(self._log.get(session_id, []))
        if not lines:  # run before a restart: the journal's transitions are the log
            lines = [f"{e.from_status or 'new'} → {e.to_status}" + (f": {e.detail}" if e.detail else "")
                     for e in self._node.journal.events(JOB_PREFIX + session_id)]  # fmt: skip
        return "\n".join(lines) + "\n"

    async def stop(self, session_id: str) -> SessionView:
        job = self._job(session_id)
        await self._end(job.id, S.CANCELLED, "stopped by the client")
        self._prover.cancel(job.id)  # ends its wait; the task goes on only for another job of the same statement
        return await self.status(session_id)

    def _stored(self, session_id: str) -> bytes | None:
        job = self._job(session_id)
        if job.status is not S.COMPLETED:
            return None
        blob = self._node.journal.get_proof(job.id)
        return None if blob is None else decompress(blob)

    async def receipt(self, session_id: str) -> bytes:
        stored = self._stored(session_id)
        if stored is None or not stored.startswith(b"R"):
            view = await self.status(session_id)
            why = "it is execute-only" if view.execute_only else f"it is {view.status.value}"
            raise ReceiptMissing(f"session {session_id} has no receipt: {why}")
        return stored[1:]

    async def journal(self, session_id: str) -> bytes:
        stored = self._stored(session_id)
        if stored is None:
            raise ReceiptMissing(f"session {session_id} has no journal: it is {(await self.status(session_id)).status}")
        return stored[1:] if stored.startswith(b"J") else Receipt.decode(stored[1:]).journal

    def session_ids(self) -> list[str]:
        return [session_of(j.id) for j in self._node.journal.jobs() if j.source == SOURCE]

    async def close(self) -> None:
        """Sessions are the node's jobs: they stay in the journal, to be finished by the next start."""
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Unresumable(Exception):
    """A session that cannot go on after a restart; it ends FAILED with this reason."""


def _request(job_id: str, work: Work, record: JobRecord) -> ProveRequest:
    kind, program = ("builtin", work.builtin) if work.builtin is not None else ("elf", work.elf)
    return ProveRequest(job_id, program, work.input, kind=kind,
                        image_id=bytes.fromhex(record.image_id.removeprefix("0x")))  # fmt: skip


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


async def _ask(scheduler: Any, method: str, *args: Any) -> Any:
    call = getattr(scheduler, "call", None)
    if call is not None:
        return await call(method, *args)
    return getattr(scheduler, method)(*args)
