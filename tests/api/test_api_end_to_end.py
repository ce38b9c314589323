"""The bonsai-sdk request sequence against the real server and real proofs of the built-in guests."""

from __future__ import annotations

import struct
from pathlib import Path

import aiohttp
import pytest
from api_support import ALICE, FIB, FIB_INITIAL, Api, fib_input, poll

import zkray
from zkray.api import BonsaiHttpError, SessionFailed
from zkray.zkvm.rv32im import execute, image_id, load_elf

GUEST_DIR = Path(__file__).resolve().parents[2] / "guest"


async def test_sdk_sequence_proves_fib_and_the_receipt_verifies(api: Api) -> None:
    async with api.client() as c:
        assert await c.upload_img(FIB.hex(), b"") is True  # built-in: already present, answered 204
        input_id = await c.upload_input(fib_input(10))
        session_id = await c.create_session(FIB.hex(), input_id)
        status = await poll(c, session_id)
        assert status.status == "SUCCEEDED", status
        assert status.error_msg is None and status.state is None
        assert status.stats is not None and status.stats.cycles == 10 and status.stats.segments == 1
        assert status.receipt_url is not None and status.receipt_url.startswith(api.url)
        assert status.elapsed_time is not None and status.elapsed_time >= 0
        receipt = zkray.Receipt.decode(await c.download(status.receipt_url))
        receipt.verify(FIB)
        assert receipt.journal == struct.pack("<II", 10, 89)
        assert await c.receipt_download(session_id) == receipt.encode()  # GET /receipts/{id} -> url -> bytes
        assert await c.exec_only_journal(session_id) == receipt.journal
        logs = await c.logs(session_id)
        assert "executor: 10 cycles" in logs and "SUCCEEDED" in logs


async def test_client_prove_returns_a_verified_receipt(api: Api) -> None:
    async with api.client() as c:
        receipt = await c.prove(FIB_INITIAL, struct.pack("<III", 20, 3, 5), timeout=120)
    receipt.verify(FIB_INITIAL)
    assert receipt.journal[:12] == struct.pack("<III", 20, 3, 5)


async def test_execute_only_session_gives_journal_and_stats_but_no_receipt(api: Api) -> None:
    async with api.client() as c:
        result = await c.execute(FIB, fib_input(1000), timeout=60)
        assert result.status.status == "SUCCEEDED"
        assert result.status.receipt_url is None
        assert result.status.stats is not None and result.status.stats.cycles == 1000
        assert result.status.stats.total_cycles == 1024
        assert result.journal[:4] == fib_input(1000) and len(result.journal) == 8
        with pytest.raises(BonsaiHttpError) as e:
            await c.receipt_download(result.session_id)
        assert e.value.status == 404 and e.value.type == "ReceiptMissing"


async def test_quotas_count_the_cycles_of_finished_sessions(api: Api) -> None:
    async with api.client() as c:
        before = await c.quotas()
        assert before.cycle_usage == 0 and before.concurrent_proofs == 4 and before.exec_cycle_limit == 1024
        await c.execute(FIB, fib_input(100), timeout=60)
        after = await c.quotas()
    assert after.cycle_usage == 128  # total (padded) cycles of n = 100
    assert after.cycle_budget == before.cycle_budget - 128
    assert (await api.client().version()).risc0_zkvm == ["zkray-0.1"]


async def test_bad_guest_input_fails_the_session_with_the_guests_message(api: Api) -> None:
    async with api.client() as c:
        with pytest.raises(SessionFailed) as e:
            await c.prove(FIB, b"\x01\x02", timeout=60)
    assert e.value.status == "FAILED" and "expects 4 input bytes" in (e.value.error_msg or "")


async def test_session_cycle_limit_fails_a_longer_session(api: Api) -> None:
    async with api.client() as c:
        input_id = await c.upload_input(fib_input(500))
        session_id = await c.create_session(FIB.hex(), input_id, exec_cycle_limit=100)
        status = await poll(c, session_id)
    assert status.status == "FAILED" and "cycle limit of 100" in (status.error_msg or "")


async def test_uploaded_elf_executes_and_a_proving_session_fails_with_a_clear_error(api: Api) -> None:
    elf = (GUEST_DIR / "fib.elf").read_bytes()
    iid = image_id(load_elf(elf))
    expected = execute(elf, fib_input(10), trace=False)
    async with api.client() as c:
        assert await c.has_img(iid.hex()) is False
        assert await c.upload_img(iid.hex(), elf) is False  # uploaded now
        assert await c.upload_img(iid.hex(), elf) is True  # and answered 204 from then on
        result = await c.execute(iid, fib_input(10), timeout=60)
        assert result.journal == expected.journal
        assert result.status.stats is not None and result.status.stats.cycles == expected.cycles
        with pytest.raises(SessionFailed) as e:
            await c.prove(iid, fib_input(10), timeout=60)
    assert "cannot prove uploaded ELF guests yet" in (e.value.error_msg or "")


async def test_elf_upload_under_the_wrong_id_or_not_an_elf_is_a_400(api: Api, http: aiohttp.ClientSession) -> None:
    elf = (GUEST_DIR / "fib.elf").read_bytes()
    wrong = bytes(32).hex()
    headers = {"x-api-key": ALICE}
    async with http.put(f"{api.url}/images/upload/{wrong}", data=elf, headers=headers) as r:
        assert r.status == 400 and (await r.json())["type"] == "ImageIdMismatch"
    async with http.put(f"{api.url}/images/upload/{wrong}", data=b"\x7fELF garbage", headers=headers) as r:
        assert r.status == 400 and (await r.json())["type"] == "ImageInvalid"
    async with http.delete(f"{api.url}/images/{FIB.hex()}", headers=headers) as r:
        assert r.status == 400 and "built-in" in (await r.json())["msg"]


async def test_uploaded_image_can_be_deleted(api: Api, http: aiohttp.ClientSession) -> None:
    elf = (GUEST_DIR / "sort.elf").read_bytes()
    iid = image_id(load_elf(elf)).hex()
    async with api.client() as c:
        await c.upload_img(iid, elf)
        assert await c.has_img(iid)
        async with http.delete(f"{api.url}/images/0x{iid}", headers={"x-api-key": ALICE}) as r:
            assert r.status == 200
        assert not await c.has_img(iid)
