"""The in-process proving service on its own (no HTTP): bounds, eviction, shutdown, prover failures."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from api_support import FIB, fib_input

from zkray.api import (
    ImageInvalid,
    ImageMissing,
    LocalProvingService,
    ServiceBusy,
    SessionMissing,
    SessionRequest,
    SessionStatus,
)
from zkray.zkvm.receipt import Receipt
from zkray.zkvm.rv32im import image_id, load_elf

GUEST_DIR = Path(__file__).resolve().parents[2] / "guest"
LONG_N = 1 << 15


async def until_final(service: LocalProvingService, session_id: str, bound: int = 3000) -> SessionStatus:
    for _ in range(bound):
        view = await service.status(session_id)
        if view.final:
            return view.status
        await asyncio.sleep(0.02)
    raise AssertionError(f"{session_id} not final after {bound} polls")


def request(n: int, *, execute_only: bool = True, image: bytes = FIB) -> SessionRequest:
    return SessionRequest(image, fib_input(n), owner="t", execute_only=execute_only)


async def test_max_sessions_refuses_when_all_run_and_forgets_the_oldest_finished() -> None:
    service = LocalProvingService(max_concurrent=1, max_sessions=2)
    try:
        done = await service.submit(request(3))
        assert await until_final(service, done) is SessionStatus.SUCCEEDED
        a = await service.submit(request(LONG_N, execute_only=False))
        b = await service.submit(request(LONG_N, execute_only=False))  # evicts `done`, the finished one
        with pytest.raises(ServiceBusy):
            await service.submit(request(3))
        with pytest.raises(SessionMissing):
            await service.status(done)
        for s in (a, b):
            await service.stop(s)
    finally:
        await service.close()


async def test_close_aborts_running_and_queued_sessions() -> None:
    service = LocalProvingService(max_concurrent=1)
    a = await service.submit(request(LONG_N, execute_only=False))
    b = await service.submit(request(LONG_N, execute_only=False))
    await service.close()
    for s in (a, b):
        view = await service.status(s)
        assert view.status is SessionStatus.ABORTED and view.error == "the service shut down"


async def test_an_injected_elf_prover_is_used_and_its_crash_fails_only_the_session() -> None:
    calls: list[int] = []

    def crashing_prover(elf: bytes, inp: bytes) -> Receipt:
        calls.append(len(elf))
        raise RuntimeError("boom")

    elf = (GUEST_DIR / "fib.elf").read_bytes()
    iid = image_id(load_elf(elf))
    service = LocalProvingService(elf_prover=crashing_prover)
    try:
        assert await service.put_image(iid, elf) is True
        assert await service.put_image(iid, elf) is False
        s = await service.submit(request(5, execute_only=False, image=iid))
        assert await until_final(service, s) is SessionStatus.FAILED
        view = await service.status(s)
        assert view.error == "internal prover error RuntimeError: boom" and calls == [len(elf)]
        ok = await service.submit(request(5))  # the service carries on
        assert await until_final(service, ok) is SessionStatus.SUCCEEDED
    finally:
        await service.close()


async def test_image_store_is_bounded_and_validated() -> None:
    fib_elf = (GUEST_DIR / "fib.elf").read_bytes()
    sort_elf = (GUEST_DIR / "sort.elf").read_bytes()
    fib_id, sort_id = image_id(load_elf(fib_elf)), image_id(load_elf(sort_elf))
    service = LocalProvingService(max_image_bytes=max(len(fib_elf), len(sort_elf)) + 10)
    try:
        await service.put_image(fib_id, fib_elf)
        await service.put_image(sort_id, sort_elf)  # only one fits: the older upload is forgotten
        assert not await service.has_image(fib_id) and await service.has_image(sort_id)
        with pytest.raises(ImageInvalid, match="at most"):
            await service.put_image(fib_id, fib_elf + bytes(len(sort_elf)))
        with pytest.raises(ImageMissing):
            await service.submit(request(3, image=fib_id))
        with pytest.raises(ImageMissing):
            await service.delete_image(fib_id)
        await service.delete_image(sort_id)
        assert not await service.has_image(sort_id)
    finally:
        await service.close()


async def test_guest_exit_code_fails_an_elf_session() -> None:
    elf = (GUEST_DIR / "fib.elf").read_bytes()
    iid = image_id(load_elf(elf))
    service = LocalProvingService()
    try:
        await service.put_image(iid, elf)
        s = await service.submit(SessionRequest(iid, b"\x01", owner="t", execute_only=True))  # too short
        assert await until_final(service, s) is SessionStatus.FAILED
        assert "exited with code" in ((await service.status(s)).error or "")
    finally:
        await service.close()


async def test_a_session_that_times_out_in_the_queue_never_starts() -> None:
    clock = [0.0]
    service = LocalProvingService(max_concurrent=1, session_timeout_s=10.0, clock=lambda: clock[0])
    try:
        running = await service.submit(request(LONG_N, execute_only=False))
        queued = await service.submit(request(3))
        await asyncio.sleep(0.05)
        clock[0] = 11.0  # the queued session is now past its limit before it ever got a worker
        await service.stop(running)  # ends the session; its thread keeps the worker until the proof returns
        assert await until_final(service, queued) is SessionStatus.TIMED_OUT
        view = await service.status(queued)
        assert "in the queue" in (view.error or "") and "executing" not in await service.logs(queued)
    finally:
        await service.close()
