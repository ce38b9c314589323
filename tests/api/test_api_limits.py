"""Rate limits, quotas, stopping and timeouts, with real sessions on the loopback server."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from api_support import ALICE, BOB, FIB, Api, config, fib_input, poll, wait_state

import zkray
from zkray.api import (
    BonsaiClient,
    BonsaiHttpError,
    LocalProvingService,
    PollPolicy,
    ProveTimeout,
    SessionFailed,
    create_app,
    start,
)

LONG_N = 1 << 15  # seconds of proving on the CI machine: long enough to be caught running


async def test_rate_limit_is_a_429_with_retry_after_per_key(serve, http: aiohttp.ClientSession) -> None:
    api = await serve(config(alice={"rate_per_s": 0.001, "burst": 3}))
    statuses = []
    for _ in range(5):
        async with http.get(f"{api.url}/version", headers={"x-api-key": ALICE}) as r:
            statuses.append(r.status)
            if r.status == 429:
                body = await r.json()
                assert body["type"] == "RateLimited" and "alice" in body["msg"]
                assert int(r.headers["Retry-After"]) >= 1
    assert statuses == [200, 200, 200, 429, 429]
    async with http.get(f"{api.url}/version", headers={"x-api-key": BOB}) as r:
        assert r.status == 200  # bob has his own bucket


async def test_client_waits_out_429s_and_reports_them_when_told_not_to(serve) -> None:
    api = await serve(config(alice={"rate_per_s": 2.0, "burst": 1}))
    async with api.client() as c:
        for _ in range(3):  # the second and third calls meet a 429, wait Retry-After (1 s) and succeed
            assert (await c.version()).risc0_zkvm
    impatient = BonsaiClient(api.url, ALICE, poll=PollPolicy(max_429_retries=0))
    async with impatient:
        with pytest.raises(BonsaiHttpError) as e:
            for _ in range(3):
                await impatient.version()
    assert e.value.status == 429 and e.value.retryable and e.value.retry_after_s is not None


async def test_concurrent_proofs_quota(serve) -> None:
    api = await serve(config(alice={"concurrent_proofs": 1}), max_concurrent=1)
    async with api.client() as c:
        first = await c.create_session(FIB.hex(), await c.upload_input(fib_input(LONG_N)))
        input_id = await c.upload_input(fib_input(5))
        async with api.client(poll=PollPolicy(max_429_retries=0)) as impatient:
            with pytest.raises(BonsaiHttpError) as e:
                await impatient.create_session(FIB.hex(), input_id)
        assert e.value.status == 429 and e.value.type == "QuotaExceeded" and e.value.retry_after_s == 1
        async with api.client(BOB) as bob:  # the quota is alice's alone
            bob_session = await bob.create_session(FIB.hex(), await bob.upload_input(fib_input(5)), execute_only=True)
            await bob.stop(bob_session)
        await c.stop(first)  # a final session no longer counts
        second = await c.create_session(FIB.hex(), input_id)
        assert (await poll(c, second)).status == "SUCCEEDED"


async def test_cycle_budget_is_spent_then_refused(serve) -> None:
    api = await serve(config(alice={"cycle_budget": 100}))
    async with api.client() as c:
        assert (await c.execute(FIB, fib_input(100), timeout=60)).status.stats.total_cycles == 128  # type: ignore[union-attr]
        quotas = await c.quotas()
        assert quotas.cycle_usage == 128 and quotas.cycle_budget == 0
        with pytest.raises(BonsaiHttpError) as e:
            await c.create_session(FIB.hex(), await c.upload_input(fib_input(1)))
        assert e.value.status == 429 and e.value.type == "QuotaExceeded" and "budget" in e.value.msg


async def test_per_session_cycle_quota_caps_the_requested_limit(serve) -> None:
    api = await serve(config(alice={"exec_cycle_limit_mcycles": 1}))
    async with api.client() as c:
        input_id = await c.upload_input(fib_input(1_500_000))
        session_id = await c.create_session(FIB.hex(), input_id, execute_only=True, exec_cycle_limit=10**9)
        status = await poll(c, session_id)
    assert status.status == "FAILED" and "cycle limit of 1000000" in (status.error_msg or "")


async def test_stop_a_running_and_a_queued_session(serve) -> None:
    api = await serve(max_concurrent=1)
    async with api.client() as c:
        running = await c.create_session(FIB.hex(), await c.upload_input(fib_input(LONG_N)))
        queued = await c.create_session(FIB.hex(), await c.upload_input(fib_input(10)))
        assert (await wait_state(c, running)).state in ("Executor", "ProveSegments: 0/1")
        assert (await c.session_status(queued)).state == "Queued"
        for session_id in (queued, running):
            await c.stop(session_id)
            status = await c.session_status(session_id)
            assert status.status == "ABORTED" and status.error_msg == "stopped by the client"
            assert status.receipt_url is None
            with pytest.raises(BonsaiHttpError) as e:
                await c.receipt_download(session_id)
            assert e.value.status == 404
            assert "ABORTED" in await c.logs(session_id)
        done = await c.execute(FIB, fib_input(3), timeout=120)  # the worker is free again afterwards
        await c.stop(done.session_id)  # stopping a finished session changes nothing
        assert (await c.session_status(done.session_id)).status == "SUCCEEDED"


async def test_session_past_the_service_timeout_is_timed_out(serve) -> None:
    api = await serve(session_timeout_s=0.2)
    async with api.client() as c:
        with pytest.raises(SessionFailed) as e:
            await c.prove(FIB, fib_input(LONG_N), timeout=120)
    assert e.value.status == "TIMED_OUT" and e.value.retryable and "0.2 s limit" in (e.value.error_msg or "")


async def test_client_deadline_stops_the_remote_session(api: Api) -> None:
    async with api.client() as c:
        with pytest.raises(ProveTimeout) as e:
            await c.prove(FIB, fib_input(LONG_N), timeout=0.3)
        assert e.value.retryable and e.value.session_id is not None
        assert (await c.session_status(e.value.session_id)).status == "ABORTED"


async def test_concurrent_creates_cannot_overshoot_the_quota(serve) -> None:
    api = await serve(config(alice={"concurrent_proofs": 2}), max_concurrent=1)
    async with api.client(poll=PollPolicy(max_429_retries=0)) as c:
        inputs = [await c.upload_input(fib_input(LONG_N)) for _ in range(5)]
        results = await asyncio.gather(*(c.create_session(FIB.hex(), i) for i in inputs), return_exceptions=True)
        created = [r for r in results if isinstance(r, str)]
        refused = [r for r in results if isinstance(r, BonsaiHttpError) and r.status == 429]
        assert len(created) == 2 and len(refused) == 3
        for session_id in created:
            await c.stop(session_id)


async def test_client_polls_through_a_server_restart(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="zkray.api.client")
    service = LocalProvingService(max_concurrent=1)
    cfg = config()
    runner, url = await start(create_app(service, cfg))
    port = int(url.rsplit(":", 1)[1])
    try:
        async with BonsaiClient(url, ALICE, poll=PollPolicy(initial_s=0.05, max_s=0.1)) as c:
            session_id = await c.create_session(FIB.hex(), await c.upload_input(fib_input(1 << 13)))
            waiting = asyncio.create_task(c.wait(session_id, timeout_s=120))
            await runner.cleanup()  # the server goes away while the client polls ...
            await asyncio.sleep(0.3)
            runner, _ = await start(create_app(service, cfg), port=port)  # ... and comes back on the same port
            status = await waiting
            assert status.status == "SUCCEEDED"
            assert "polling session" in caplog.text  # it did meet the gap, and waited it out
            zkray.verify(await c.download(status.receipt_url or ""), FIB)
    finally:
        await runner.cleanup()
        await service.close()


async def test_repeated_failed_keys_from_one_address_are_slowed_down(serve, http: aiohttp.ClientSession) -> None:
    api = await serve(config(failed_auth_per_s=0.001, failed_auth_burst=3))
    statuses = []
    for _ in range(5):
        async with http.get(f"{api.url}/version", headers={"x-api-key": "guess-guess-guess-guess"}) as r:
            statuses.append(r.status)
            if r.status == 429:
                assert (await r.json())["type"] == "TooManyFailedAuth" and int(r.headers["Retry-After"]) >= 1
    assert statuses == [401, 401, 401, 429, 429]
    async with api.client() as c:  # a valid key from the same address is not held up
        assert (await c.version()).risc0_zkvm
