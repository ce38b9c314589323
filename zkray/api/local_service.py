"""An in-process `ProvingService`: real proofs in a bounded pool of worker threads.

For standalone use (`zkray.api` without a cluster) and for the API's tests; the node replaces it with
its Ray scheduler. Bounded everywhere: `max_concurrent` sessions prove at once (the rest wait their
turn), at most `max_sessions` are remembered (the oldest finished ones are forgotten first), uploaded
ELFs are capped in bytes, and a session running past `session_timeout_s` ends TIMED_OUT.

A proof already running in a thread cannot be interrupted: `stop` (and a timeout) end the session at
once and discard its result, but the thread keeps its slot until the computation returns, so the
concurrency bound holds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from zkray.api.errors import ImageIdMismatch, ImageInvalid, ImageMissing, ReceiptMissing, ServiceBusy, SessionMissing
from zkray.api.local_work import ElfProver, Outcome, Work, run
from zkray.api.service import SessionRequest, SessionStatus, SessionView
from zkray.proving import guests
from zkray.zkvm.errors import ZkvmError
from zkray.zkvm.rv32im import image_id, load_elf

MiB = 1024 * 1024


@dataclass
class _Session:
    request: SessionRequest
    created: float
    status: SessionStatus = SessionStatus.RUNNING
    state: str = "Queued"
    error: str | None = None
    outcome: Outcome | None = None
    finished: float | None = None
    log: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class LocalProvingService:
    """Proves with `zkray.prove` in threads; implements `zkray.api.service.ProvingService`."""

    def __init__(
        self,
        *,
        max_concurrent: int = 2,
        max_sessions: int = 10_000,
        session_timeout_s: float = 600.0,
        max_image_bytes: int = 256 * MiB,
        elf_prover: ElfProver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrent < 1 or max_sessions < 1 or session_timeout_s <= 0:
            raise ValueError("max_concurrent and max_sessions must be at least 1, session_timeout_s positive")
        self._builtins = {iid: name for name, iid in guests().items()}
        self._images: OrderedDict[bytes, bytes] = OrderedDict()
        self._image_bytes = 0
        self._max_image_bytes = max_image_bytes
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._max_sessions = max_sessions
        self._timeout_s = session_timeout_s
        self._slots = asyncio.Semaphore(max_concurrent)
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="zkray-api-prove")
        self._elf_prover = elf_prover
        self._clock = clock

    # images

    async def has_image(self, image_id: bytes) -> bool:
        return image_id in self._builtins or image_id in self._images

    async def put_image(self, image_id_: bytes, elf: bytes) -> bool:
        if await self.has_image(image_id_):
            return False
        if len(elf) > self._max_image_bytes:
            raise ImageInvalid(f"the ELF is {len(elf)} bytes; this node keeps at most {self._max_image_bytes}")
        computed = await asyncio.to_thread(_elf_image_id, elf)
        if computed != image_id_:
            raise ImageIdMismatch(f"the ELF's image id is {computed.hex()}, not {image_id_.hex()}; "
                                  "upload it under the id zkray computes (zkray.zkvm.rv32im.image_id)")
        if image_id_ in self._images:
            return False  # a concurrent upload of the same ELF finished first
        while self._images and self._image_bytes + len(elf) > self._max_image_bytes:
            _, old = self._images.popitem(last=False)  # the oldest upload makes room
            self._image_bytes -= len(old)
        self._images[image_id_] = elf
        self._image_bytes += len(elf)
        return True

    async def delete_image(self, image_id_: bytes) -> None:
        if image_id_ in self._builtins:
            name = self._builtins[image_id_]
            raise ImageInvalid(f"{image_id_.hex()} is the built-in guest {name}; it cannot be deleted")
        elf = self._images.pop(image_id_, None)
        if elf is None:
            raise ImageMissing(f"no uploaded image {image_id_.hex()}")
        self._image_bytes -= len(elf)

    # sessions

    async def submit(self, request: SessionRequest) -> str:
        builtin = self._builtins.get(request.image_id)
        elf = self._images.get(request.image_id)
        if builtin is None and elf is None:
            raise ImageMissing(f"image {request.image_id.hex()} is neither a built-in guest nor uploaded; "
                               "upload the ELF first")
        self._make_room()
        session_id = str(uuid.uuid4())
        s = _Session(request, created=self._clock())
        s.log.append(f"session created for image {request.image_id.hex()}"
                     f"{' (execute only)' if request.execute_only else ''}")
        self._sessions[session_id] = s
        work = Work(request.input, request.execute_only, request.cycle_limit, builtin=builtin, elf=elf)
        s.task = asyncio.create_task(self._run(s, work), name=f"zkray-api-session-{session_id}")
        return session_id

    def _make_room(self) -> None:
        if len(self._sessions) < self._max_sessions:
            return
        for sid, s in self._sessions.items():
            if s.status is not SessionStatus.RUNNING:
                del self._sessions[sid]
                return
        raise ServiceBusy(f"{self._max_sessions} sessions are running or queued; retry when some finish")

    async def _run(self, s: _Session, work: Work) -> None:
        async with self._slots:
            if s.status is not SessionStatus.RUNNING:
                return  # stopped while queued
            remaining = self._timeout_s - (self._clock() - s.created)
            if remaining <= 0:  # the queue took all its time: do not start work whose result would be dropped
                self._finish(s, SessionStatus.TIMED_OUT, f"the session waited past its {self._timeout_s:g} s limit "
                             "in the queue; the node is overloaded, retry later")
                return
            s.state = "Executor"
            loop = asyncio.get_running_loop()

            def progress(state: str, line: str) -> None:
                s.state = state
                s.log.append(line)

            future = loop.run_in_executor(self._pool, run, work, progress, self._elf_prover)
            try:
                outcome = await asyncio.wait_for(asyncio.shield(future), remaining)
            except TimeoutError:
                self._finish(s, SessionStatus.TIMED_OUT, f"the session ran past its {self._timeout_s:g} s limit")
                await asyncio.gather(future, return_exceptions=True)  # keep the slot until the thread is done
            except ZkvmError as e:
                self._finish(s, SessionStatus.FAILED, str(e))
            except Exception as e:  # a prover bug must fail the session, not kill the service
                self._finish(s, SessionStatus.FAILED, f"internal prover error {type(e).__name__}: {e}")
            else:
                self._finish(s, SessionStatus.SUCCEEDED, None, outcome)

    def _finish(self, s: _Session, status: SessionStatus, error: str | None, outcome: Outcome | None = None) -> None:
        if s.status is not SessionStatus.RUNNING:
            return  # already stopped: a late result is discarded
        s.status, s.error, s.outcome, s.state = status, error, outcome, ""
        s.finished = self._clock()
        s.log.append(f"session {status.value}" + (f": {error}" if error else ""))

    def _get(self, session_id: str) -> _Session:
        s = self._sessions.get(session_id)
        if s is None:
            raise SessionMissing(f"no session {session_id}")
        return s

    async def status(self, session_id: str) -> SessionView:
        s = self._get(session_id)
        end = s.finished if s.finished is not None else self._clock()
        return SessionView(
            session_id=session_id,
            owner=s.request.owner,
            status=s.status,
            state=s.state,
            elapsed_s=end - s.created,
            execute_only=s.request.execute_only,
            error=s.error,
            stats=s.outcome.stats if s.outcome else None,
        )

    async def logs(self, session_id: str) -> str:
        return "\n".join(self._get(session_id).log) + "\n"

    async def stop(self, session_id: str) -> SessionView:
        s = self._get(session_id)
        self._finish(s, SessionStatus.ABORTED, "stopped by the client")
        return await self.status(session_id)

    async def receipt(self, session_id: str) -> bytes:
        s = self._get(session_id)
        if s.outcome is None or s.outcome.receipt is None:
            why = "it is execute-only" if s.request.execute_only else f"it is {s.status.value}"
            raise ReceiptMissing(f"session {session_id} has no receipt: {why}")
        return s.outcome.receipt

    async def journal(self, session_id: str) -> bytes:
        s = self._get(session_id)
        if s.outcome is None:
            raise ReceiptMissing(f"session {session_id} has no journal: it is {s.status.value}")
        return s.outcome.journal

    async def close(self) -> None:
        tasks = [s.task for s in self._sessions.values() if s.task is not None and not s.task.done()]
        for s in self._sessions.values():
            self._finish(s, SessionStatus.ABORTED, "the service shut down")
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _elf_image_id(elf: bytes) -> bytes:
    try:
        return image_id(load_elf(elf))
    except ZkvmError as e:
        raise ImageInvalid(f"not a loadable RV32IM ELF: {e}") from e
