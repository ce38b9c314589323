"""Bad requests over real HTTP: each gets the right 4xx with a JSON error body, and the server keeps serving."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
import pytest
from api_support import ALICE, BOB, FIB, Api, config, fib_input, poll
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkray.api import BonsaiClient, BonsaiHttpError
from zkray.api.models import UploadRes

ROUTES = [
    ("GET", "/images/upload/{img}"),
    ("PUT", "/images/upload/{img}"),
    ("DELETE", "/images/{img}"),
    ("GET", "/inputs/upload"),
    ("PUT", "/inputs/upload/{id}"),
    ("DELETE", "/inputs/{id}"),
    ("GET", "/receipts/upload"),
    ("PUT", "/receipts/upload/{id}"),
    ("POST", "/sessions/create"),
    ("GET", "/sessions/status/{id}"),
    ("GET", "/sessions/logs/{id}"),
    ("GET", "/sessions/stop/{id}"),
    ("GET", "/sessions/exec_only_journal/{id}"),
    ("GET", "/receipts/{id}"),
    ("GET", "/receipts/stark/receipt/{id}"),
    ("GET", "/version"),
    ("GET", "/user/quotas"),
    ("POST", "/snark/create"),
]


def fill(path: str, ident: str = "") -> str:
    return path.format(img=FIB.hex(), id=ident or str(uuid.uuid4()))


async def error_of(resp: aiohttp.ClientResponse) -> dict[str, str]:
    assert resp.content_type == "application/json", await resp.text()
    body = await resp.json()
    assert set(body) == {"type", "msg"} and body["msg"], body
    return body  # type: ignore[no-any-return]


async def still_serving(api: Api) -> None:
    async with api.client() as c:
        assert (await c.version()).risc0_zkvm


@pytest.mark.parametrize("key", [None, "", "wrong-key-0123456789", ALICE + "x", ALICE.upper()])
async def test_every_route_without_a_valid_key_is_a_401(api: Api, http: aiohttp.ClientSession, key: str | None) -> None:
    headers = {} if key is None else {"x-api-key": key}
    for method, path in ROUTES:
        async with http.request(method, api.url + fill(path), headers=headers, data=b"{}") as r:
            assert r.status == 401, (method, path, r.status)
            assert (await error_of(r))["type"] == "Unauthorized"
    await still_serving(api)


async def test_unknown_routes_and_methods_are_json_404_and_405(api: Api, http: aiohttp.ClientSession) -> None:
    h = {"x-api-key": ALICE}
    async with http.get(f"{api.url}/no/such/route", headers=h) as r:
        assert r.status == 404 and (await error_of(r))["type"] == "NotFound"
    async with http.post(f"{api.url}/version", headers=h) as r:
        assert r.status == 405 and "GET" in r.headers["Allow"]
        await error_of(r)


@pytest.mark.parametrize("body", [
    b"{not json",
    b"\xff\xfe\x00",
    b"[" * 50_000,  # nesting deep enough to exhaust a recursive parser
    b"[1, 2, 3]",
    b'"a string"',
    b"{}",
    b'{"img": 5, "input": "x"}',
    b'{"img": "00", "input": "x", "execute_only": "yes"}',
    b'{"img": "' + FIB.hex().encode() + b'", "input": "x", "exec_cycle_limit": -1}',
    b'{"img": "' + FIB.hex().encode() + b'", "input": "x", "exec_cycle_limit": 1.5}',
])
async def test_malformed_session_requests_are_400(api: Api, http: aiohttp.ClientSession, body: bytes) -> None:
    async with http.post(f"{api.url}/sessions/create", data=body, headers={"x-api-key": ALICE}) as r:
        assert r.status == 400, await r.text()
        assert (await error_of(r))["type"] in ("MalformedJson", "InvalidRequest")
    await still_serving(api)


async def test_semantically_wrong_session_requests(api: Api, http: aiohttp.ClientSession) -> None:
    h = {"x-api-key": ALICE}
    async with api.client() as c:
        input_id = await c.upload_input(fib_input(5))
    cases = [
        ({"img": "zz" * 32, "input": input_id}, 400, "ImageInvalid"),
        ({"img": FIB.hex()[:-2], "input": input_id}, 400, "ImageInvalid"),
        ({"img": "ab" * 32, "input": input_id}, 404, "ImageMissing"),
        ({"img": FIB.hex(), "input": str(uuid.uuid4())}, 404, "InputMissing"),
        ({"img": FIB.hex(), "input": "not-a-uuid"}, 404, "InputMissing"),
        ({"img": FIB.hex(), "input": input_id, "assumptions": ["r"]}, 400, "AssumptionsUnsupported"),
    ]
    for body, status, type_ in cases:
        async with http.post(f"{api.url}/sessions/create", json=body, headers=h) as r:
            assert r.status == status, (body, await r.text())
            assert (await error_of(r))["type"] == type_
    # another key cannot use alice's input
    async with http.post(f"{api.url}/sessions/create", json={"img": FIB.hex(), "input": input_id},
                         headers={"x-api-key": BOB}) as r:
        assert r.status == 404 and (await error_of(r))["type"] == "InputMissing"


async def test_oversized_bodies_are_413(serve, http: aiohttp.ClientSession) -> None:
    api = await serve(config(max_json_bytes=1024, max_input_bytes=2048, max_image_bytes=4096,
                             max_receipt_bytes=4096))
    h = {"x-api-key": ALICE}
    async with http.post(f"{api.url}/sessions/create", data=b"{" + b" " * 2000 + b"}", headers=h) as r:
        assert r.status == 413 and (await error_of(r))["type"] == "PayloadTooLarge"
    async with http.get(f"{api.url}/inputs/upload", headers=h) as r:
        slot = UploadRes.model_validate(await r.json())

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the limit applies while streaming
        for _ in range(10):
            yield b"x" * 512

    async with http.put(slot.url, data=chunked(), headers=h) as r:
        assert r.status == 413, await r.text()
    async with http.put(slot.url, data=b"x" * 3000, headers=h) as r:
        assert r.status == 413
    async with http.put(f"{api.url}/images/upload/{'ab' * 32}", data=b"x" * 5000, headers=h) as r:
        assert r.status == 413
    async with http.put(slot.url, data=fib_input(7), headers=h) as r:  # the slot is still usable
        assert r.status == 200
    async with api.client() as c:
        session_id = await c.create_session(FIB.hex(), slot.uuid)
        assert (await poll(c, session_id)).status == "SUCCEEDED"


async def test_unknown_ids_are_404(api: Api) -> None:
    async with api.client() as c:
        for ident in (str(uuid.uuid4()), "garbage", "../../etc/passwd"):
            for call in (c.session_status, c.logs, c.stop, c.exec_only_journal, c.receipt_download):
                with pytest.raises(BonsaiHttpError) as e:
                    await call(ident)
                assert e.value.status == 404, (call.__name__, ident)
            with pytest.raises(BonsaiHttpError) as e:
                await c.download(f"{api.url}/receipts/stark/receipt/{ident}")
            assert e.value.status == 404
        with pytest.raises(BonsaiHttpError) as e:
            await c._request("PUT", f"/inputs/upload/{uuid.uuid4()}", body=b"x")
        assert e.value.status == 404 and e.value.type == "InputMissing"


async def test_sessions_are_private_to_their_key(api: Api) -> None:
    async with api.client(ALICE) as alice, api.client(BOB) as bob:
        result = await alice.execute(FIB, fib_input(3), timeout=60)
        for call in (bob.session_status, bob.logs, bob.stop, bob.exec_only_journal):
            with pytest.raises(BonsaiHttpError) as e:
                await call(result.session_id)
            assert e.value.status == 404 and e.value.type == "SessionMissing"
        assert (await alice.session_status(result.session_id)).status == "SUCCEEDED"


async def test_bad_receipt_uploads_and_snark_requests_are_400(api: Api) -> None:
    async with api.client() as c:
        with pytest.raises(BonsaiHttpError) as e:
            await c.upload_receipt(b"not a receipt")
        assert e.value.status == 400 and e.value.type == "ReceiptInvalid"
        receipt = await c.prove(FIB, fib_input(4), timeout=60)
        assert await c.upload_receipt(receipt.encode())
        with pytest.raises(BonsaiHttpError) as e:
            await c._request("POST", "/snark/create", json_body={"session_id": "x"})
        assert e.value.status == 400 and e.value.type == "SnarkUnsupported"


async def test_restricted_versions_refuse_other_clients(serve) -> None:
    api = await serve(config(accepted_versions=["1.2.0"]))
    old, ok = BonsaiClient(api.url, ALICE, version="0.9.0"), BonsaiClient(api.url, ALICE, version="1.2.0")
    async with old, ok:
        with pytest.raises(BonsaiHttpError) as e:
            await old.version()
        assert e.value.status == 400 and e.value.type == "UnsupportedVersion"
        assert (await ok.version()).risc0_zkvm == ["zkray-0.1"]


methods = st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"])
segments = st.text(alphabet=st.characters(codec="ascii", exclude_characters="/?#%"), max_size=70)
bodies = st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                 max_leaves=12).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"img": st.sampled_from([FIB.hex(), "00", ""]) | segments, "input": segments},
                          optional={"execute_only": st.booleans() | st.integers(),
                                    "exec_cycle_limit": st.integers() | st.none(),
                                    "assumptions": st.lists(segments, max_size=2)},
                          ).map(lambda v: json.dumps(v).encode()),
)


def fuzz(url: str) -> set[int]:
    """Hypothesis drives a synchronous check, so this runs in a worker thread with its own loop and HTTP
    session while the test's loop keeps serving the API. Returns the statuses seen."""
    seen: set[int] = set()
    loop = asyncio.new_event_loop()

    async def session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    http = loop.run_until_complete(session())

    async def one(method: str, path: str, body: bytes, key: str) -> None:
        async with http.request(method, url + quote(path, safe="/"), data=body, headers={"x-api-key": key}) as r:
            seen.add(r.status)
            assert r.status < 500, (method, path, body[:80], r.status, await r.text())

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    @given(method=methods, route=st.sampled_from(ROUTES), ident=segments, body=bodies,
           key=st.sampled_from([ALICE, BOB, "", "nope-nope-nope-nope"]))
    def check(method: str, route: tuple[str, str], ident: str, body: bytes, key: str) -> None:
        loop.run_until_complete(one(method, route[1].format(img=ident or FIB.hex(), id=ident), body, key))

    try:
        check()
    finally:
        loop.run_until_complete(http.close())
        loop.close()
    return seen


async def test_fuzzed_requests_never_get_a_5xx(api: Api) -> None:
    seen = await asyncio.to_thread(fuzz, api.url)
    assert {400, 401, 404} <= seen
    await still_serving(api)


async def test_a_trickling_upload_is_cut_off_by_the_handler_timeout(serve) -> None:
    api = await serve(config(handler_timeout_s=0.5))
    h = {"x-api-key": ALICE}
    async with aiohttp.ClientSession() as http, http.get(f"{api.url}/inputs/upload", headers=h) as r:
        slot = UploadRes.model_validate(await r.json())
    host, port = api.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        path = slot.url.removeprefix(api.url)
        writer.write(f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nx-api-key: {ALICE}\r\nContent-Length: 1000\r\n\r\n"
                     .encode() + b"x" * 10)  # promise 1000 bytes, send 10, then stall
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
        assert head.startswith(b"HTTP/1.1 503"), head
    finally:
        writer.close()
    await still_serving(api)


async def test_a_deleted_input_cannot_start_a_session(api: Api, http: aiohttp.ClientSession) -> None:
    h = {"x-api-key": ALICE}
    async with api.client() as c:
        input_id = await c.upload_input(fib_input(5))
        async with http.delete(f"{api.url}/inputs/{input_id}", headers={"x-api-key": BOB}) as r:
            assert r.status == 404  # not bob's to delete
        async with http.delete(f"{api.url}/inputs/{input_id}", headers=h) as r:
            assert r.status == 200
        with pytest.raises(BonsaiHttpError) as e:
            await c.create_session(FIB.hex(), input_id)
        assert e.value.status == 404 and e.value.type == "InputMissing"
