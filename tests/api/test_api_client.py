"""zkray's Bonsai client: it refuses receipts that do not verify, keeps its key at home, and serves the node."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import socket
from pathlib import Path

import pytest
from aiohttp import web
from api_support import ALICE, FIB, FIB_INITIAL, Api, config, fib_input
from pydantic import SecretStr

import zkray
from zkray.api import (
    BonsaiClient,
    BonsaiHttpError,
    BonsaiRemoteProver,
    BonsaiUnreachable,
    LocalProvingService,
    ReceiptRejected,
    SessionFailed,
    SessionRequest,
    SessionView,
    UnknownProgram,
    start,
    verify_remote_receipt,
)
from zkray.zkvm.receipt import Receipt

GUEST_DIR = Path(__file__).resolve().parents[2] / "guest"


class TamperingService(LocalProvingService):
    """A dishonest prover: proves for real, then hands out a doctored receipt (`mode` says how)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    async def receipt(self, session_id: str) -> bytes:
        honest = Receipt.decode(await super().receipt(session_id))
        if self.mode == "seal":
            seal = bytearray(honest.seal)
            seal[len(seal) // 2] ^= 1
            return Receipt(honest.image_id, honest.journal, bytes(seal)).encode()
        if self.mode == "journal":
            journal = bytearray(honest.journal)
            journal[-1] ^= 1  # claim another output
            return Receipt(honest.image_id, bytes(journal), honest.seal).encode()
        if self.mode == "other_input":  # a genuine proof, of a cheaper input than the one asked for
            return zkray.prove("fib", fib_input(3)).encode()
        if self.mode == "other_image":
            return zkray.prove("fib_input_initial", {"n": 10, "a": 1, "b": 1}).encode()
        return b"ZKRC garbage"


@pytest.mark.parametrize("mode", ["seal", "journal", "other_input", "other_image", "garbage"])
async def test_client_refuses_a_receipt_that_does_not_verify(serve, mode: str) -> None:
    service = TamperingService(mode)
    try:
        api = await serve(service=service)
        async with api.client() as c:
            with pytest.raises(ReceiptRejected):
                await c.prove(FIB, fib_input(10), timeout=60)
    finally:
        await service.close()


def test_verify_remote_receipt_accepts_the_honest_receipt() -> None:
    receipt = zkray.prove("fib_input_initial", {"n": 12, "a": 2, "b": 3})
    inp = bytes.fromhex("0c000000" "02000000" "03000000")
    assert verify_remote_receipt(receipt.encode(), FIB_INITIAL, inp) == receipt
    with pytest.raises(ReceiptRejected):
        verify_remote_receipt(receipt.encode(), FIB_INITIAL, bytes.fromhex("0c000000" "02000000" "04000000"))
    with pytest.raises(ReceiptRejected):
        verify_remote_receipt(receipt.encode(), FIB, inp)


async def test_the_key_goes_only_to_the_servers_own_origin(serve) -> None:
    seen: list[dict[str, str]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(status=200)

    elsewhere = web.Application()
    elsewhere.router.add_route("*", "/{tail:.*}", record)
    runner, other_url = await start(elsewhere)
    try:
        api = await serve(config(public_url=other_url))  # upload URLs now point at another origin
        async with api.client() as c:
            await c.upload_input(fib_input(1))
        assert len(seen) == 1
        assert "x-api-key" not in {k.lower() for k in seen[0]}
        assert seen[0].get("x-risc0-version") == "zkray-0.1"
    finally:
        await runner.cleanup()


async def test_an_unreachable_server_is_a_retryable_error() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with BonsaiClient(f"http://127.0.0.1:{port}", ALICE) as c:
        with pytest.raises(BonsaiUnreachable) as e:
            await c.version()
    assert e.value.retryable


async def test_a_non_bonsai_server_is_a_clear_error() -> None:
    async def html(request: web.Request) -> web.Response:
        if request.path.startswith("/images"):
            raise web.HTTPFound("http://example.invalid/elsewhere")
        return web.Response(text="<html>hello</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", html)
    runner, url = await start(app)
    try:
        async with BonsaiClient(url, ALICE) as c:
            with pytest.raises(BonsaiHttpError) as e:
                await c.version()
            assert e.value.type == "BadResponse"
            with pytest.raises(BonsaiHttpError) as e:
                await c.upload_input(b"x")
            assert e.value.type == "BadResponse"
            with pytest.raises(BonsaiHttpError) as e:  # a redirect is not followed (nor is the key sent on)
                await c.upload_img(FIB.hex(), b"")
            assert e.value.status == 302
    finally:
        await runner.cleanup()


async def test_remote_prover_backend_for_the_node(api: Api) -> None:
    prover = BonsaiRemoteProver(api.url, SecretStr(ALICE), timeout_s=120)
    assert ALICE not in repr(prover)
    prover = pickle.loads(pickle.dumps(prover))  # it travels into a Ray task
    encoded = await asyncio.to_thread(prover.prove, "builtin", "fib", fib_input(12))
    zkray.verify(encoded, FIB)
    with pytest.raises(UnknownProgram):
        await asyncio.to_thread(prover.prove, "builtin", "no-such-guest", b"")
    with pytest.raises(UnknownProgram):
        await asyncio.to_thread(prover.prove, "wasm", b"", b"")
    elf = (GUEST_DIR / "fib.elf").read_bytes()
    with pytest.raises(SessionFailed) as e:  # uploads the ELF, then the service says it cannot prove ELFs yet
        await asyncio.to_thread(prover.prove, "elf", elf, fib_input(5))
    assert not e.value.retryable and "ELF" in (e.value.error_msg or "")
    wrong_key = dataclasses.replace(prover, api_key=SecretStr("not-the-key-0123456789"))
    with pytest.raises(BonsaiHttpError) as e401:
        await asyncio.to_thread(wrong_key.prove, "builtin", "fib", fib_input(12))
    assert e401.value.status == 401 and not e401.value.retryable


async def test_local_service_is_a_proving_service() -> None:
    from zkray.api import ProvingService

    service = LocalProvingService()
    try:
        assert isinstance(service, ProvingService)
        session_id = await service.submit(SessionRequest(FIB, fib_input(4), owner="x", execute_only=True))
        view: SessionView = await service.status(session_id)
        assert view.owner == "x" and view.session_id == session_id
    finally:
        await service.close()
