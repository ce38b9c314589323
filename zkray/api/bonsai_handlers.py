"""The Bonsai routes. Paths, methods and JSON shapes follow RISC Zero's bonsai-sdk client and its
self-hosted twin (Bento's REST API): upload URLs point back at this server and take the bytes by PUT.

    GET    /images/upload/{image_id}          204 if present, else {"url"} to PUT the ELF to
    PUT    /images/upload/{image_id}          the ELF; its computed image id must match
    DELETE /images/{image_id}
    GET    /inputs/upload                     {"url", "uuid"};  PUT /inputs/upload/{uuid}
    DELETE /inputs/{uuid}
    GET    /receipts/upload                   {"url", "uuid"};  PUT /receipts/upload/{uuid}
    POST   /sessions/create                   ProofReq -> {"uuid"}
    GET    /sessions/status/{uuid}            SessionStatusRes
    GET    /sessions/logs/{uuid}              text
    GET    /sessions/stop/{uuid}              ends a RUNNING session as ABORTED
    GET    /sessions/exec_only_journal/{uuid} journal bytes
    GET    /receipts/{uuid}                   {"url"} of the receipt;  GET /receipts/stark/receipt/{uuid} bytes
    GET    /version, GET /user/quotas
    POST   /snark/create, GET /snark/status/{uuid}   400 SnarkUnsupported: zkray has no SNARK wrapper
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

from aiohttp import web
from pydantic import BaseModel

from zkray.api.bonsai_server import STATE, ApiState, Handler, HttpProblem, caller
from zkray.api.errors import SessionMissing
from zkray.api.models import (
    CreateSessRes,
    ImgUploadRes,
    ProofReq,
    Quotas,
    ReceiptDownload,
    SessionStats,
    SessionStatusRes,
    SnarkReq,
    UploadRes,
    VersionInfo,
)
from zkray.api.service import SessionRequest, SessionStatus, SessionView
from zkray.api.uploads import UploadStore
from zkray.zkvm.errors import ReceiptError
from zkray.zkvm.receipt import Receipt

log = logging.getLogger("zkray.api")
CHUNK = 64 * 1024


def _state(request: web.Request) -> ApiState:
    return request.app[STATE]


def _base_url(request: web.Request) -> str:
    configured = _state(request).config.public_url
    return configured.rstrip("/") if configured else f"{request.scheme}://{request.host}"


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(text=model.model_dump_json(), status=status, content_type="application/json")


async def read_body(request: web.Request, limit: int, what: str) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed `limit` (declared or streamed)."""
    too_big = HttpProblem(413, "PayloadTooLarge", f"{what} is larger than this node's limit of {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_big
    body = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > limit:
            raise too_big
    return bytes(body)


def parse_json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as e:  # bad UTF-8 and nesting too deep included
        raise HttpProblem(400, "MalformedJson", f"the body is not JSON: {str(e)[:200]}") from None


def parse_image_id(text: str) -> bytes:
    hex_ = text[2:] if text[:2] in ("0x", "0X") else text
    try:
        if len(hex_) != 64:
            raise ValueError
        return bytes.fromhex(hex_)
    except ValueError:
        raise HttpProblem(400, "ImageInvalid", "an image id is 32 bytes in hex (64 digits, optional 0x)") from None


def _upload_id(text: str) -> str:
    """A canonical UUID string; anything else cannot name an upload or a session, so it is a 404."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise HttpProblem(404, "NotFound", f"{text[:80]!r} is not an id this server issued") from None


async def _owned_session(request: web.Request) -> SessionView:
    session_id = _upload_id(request.match_info["uuid"])
    view = await _state(request).service.status(session_id)
    if view.owner != caller(request).name:
        raise SessionMissing(f"no session {session_id}")  # another key's session does not exist for you
    return view


# images


async def image_upload_url(request: web.Request) -> web.StreamResponse:
    text = request.match_info["image_id"]
    if await _state(request).service.has_image(parse_image_id(text)):
        return web.Response(status=204)
    return _json(ImgUploadRes(url=f"{_base_url(request)}/images/upload/{text}"))


async def image_upload_put(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    image_id = parse_image_id(request.match_info["image_id"])
    if await state.service.has_image(image_id):
        return web.Response(status=204)
    elf = await read_body(request, state.config.max_image_bytes, "the image")
    stored = await state.service.put_image(image_id, elf)
    log.info("key %s uploaded image %s (%d bytes)", caller(request).name, image_id.hex(), len(elf))
    return web.Response(status=200 if stored else 204)


async def image_delete(request: web.Request) -> web.StreamResponse:
    await _state(request).service.delete_image(parse_image_id(request.match_info["image_id"]))
    return web.Response(status=200)


# inputs and receipts


def _upload_url(kind: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        store = getattr(_state(request), kind)
        upload_id = store.reserve(caller(request).name)
        return _json(UploadRes(url=f"{_base_url(request)}/{kind}/upload/{upload_id}", uuid=upload_id))

    return handler


async def _put_upload(request: web.Request, store: UploadStore, limit: int, what: str, missing: str,
                      check: Callable[[bytes], None] | None = None) -> web.StreamResponse:
    """Fill a slot reserved by `GET /{kind}/upload`: 200 stored, 204 already filled (the first upload stays)."""
    owner = caller(request).name
    upload_id = _upload_id(request.match_info["uuid"])
    if not store.is_reserved(owner, upload_id):
        raise HttpProblem(404, missing, f"no {what} slot {upload_id}; GET /{what}s/upload for one")
    data = await read_body(request, limit, f"the {what}")
    if check is not None:
        check(data)
    return web.Response(status=200 if store.put(owner, upload_id, data) else 204)


async def input_upload_put(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    return await _put_upload(request, state.inputs, state.config.max_input_bytes, "input", "InputMissing")


def _check_receipt(data: bytes) -> None:
    try:
        Receipt.decode(data)
    except ReceiptError as e:
        raise HttpProblem(400, "ReceiptInvalid", f"not a zkray receipt: {e}") from None


async def receipt_upload_put(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    return await _put_upload(request, state.receipts, state.config.max_receipt_bytes, "receipt", "ReceiptMissing",
                             _check_receipt)


async def input_delete(request: web.Request) -> web.StreamResponse:
    upload_id = _upload_id(request.match_info["uuid"])
    if not _state(request).inputs.delete(caller(request).name, upload_id):
        raise HttpProblem(404, "InputMissing", f"no input {upload_id}")
    return web.Response(status=200)


# sessions


async def session_create(request: web.Request) -> web.StreamResponse:
    state, key = _state(request), caller(request)
    body = await read_body(request, state.config.max_json_bytes, "the JSON body")
    req = ProofReq.model_validate(parse_json(body))  # a ValidationError is a 400 InvalidRequest
    if req.assumptions:
        raise HttpProblem(400, "AssumptionsUnsupported", "zkray receipts do not compose yet; send no assumptions")
    image_id = parse_image_id(req.img)
    data = state.inputs.get(key.name, _upload_id_or_missing(req.input))
    if data is None:
        raise HttpProblem(404, "InputMissing", f"input {req.input} was not uploaded by this key; "
                          "GET /inputs/upload then PUT the bytes")
    async with key.admission:  # two concurrent creates must not both pass the quota check
        await key.refresh(state.service)
        if len(key.active) >= key.config.concurrent_proofs:
            raise HttpProblem(429, "QuotaExceeded", f"key {key.name} already runs {len(key.active)} sessions "
                              f"(quota {key.config.concurrent_proofs}); wait for one to finish",
                              {"Retry-After": "1"})
        if key.cycle_budget_left <= 0:
            raise HttpProblem(429, "QuotaExceeded", f"key {key.name} has spent its cycle budget of "
                              f"{key.config.cycle_budget} cycles; ask the operator for more")
        session_id = await state.service.submit(SessionRequest(
            image_id=image_id, input=data, owner=key.name, execute_only=req.execute_only,
            cycle_limit=key.session_cycle_limit(req.exec_cycle_limit),
        ))
        key.active.add(session_id)
    log.info("key %s created session %s (image %s, execute_only=%s)", key.name, session_id, image_id.hex(),
             req.execute_only)
    return _json(CreateSessRes(uuid=session_id))


def _upload_id_or_missing(text: str) -> str:
    try:
        return _upload_id(text)
    except HttpProblem:
        raise HttpProblem(404, "InputMissing", f"{text[:80]!r} is not an input id this server issued") from None


def status_body(view: SessionView, base_url: str) -> SessionStatusRes:
    succeeded = view.status is SessionStatus.SUCCEEDED
    running = view.status is SessionStatus.RUNNING
    stats = view.stats
    return SessionStatusRes(
        status=view.status.value,
        receipt_url=f"{base_url}/receipts/stark/receipt/{view.session_id}" if succeeded and not view.execute_only
        else None,
        error_msg=None if running or succeeded else (view.error or view.status.value),
        state=view.state if running else None,
        elapsed_time=round(view.elapsed_s, 6),
        stats=SessionStats(segments=stats.segments, total_cycles=stats.total_cycles, cycles=stats.cycles)
        if stats else None,
    )


async def session_status(request: web.Request) -> web.StreamResponse:
    view = await _owned_session(request)
    if view.final:
        await caller(request).refresh(_state(request).service)
    return _json(status_body(view, _base_url(request)))


async def session_logs(request: web.Request) -> web.StreamResponse:
    view = await _owned_session(request)
    return web.Response(text=await _state(request).service.logs(view.session_id), content_type="text/plain")


async def session_stop(request: web.Request) -> web.StreamResponse:
    view = await _owned_session(request)
    view = await _state(request).service.stop(view.session_id)
    log.info("key %s stopped session %s", caller(request).name, view.session_id)
    return _json(status_body(view, _base_url(request)))


async def exec_only_journal(request: web.Request) -> web.StreamResponse:
    view = await _owned_session(request)
    return web.Response(body=await _state(request).service.journal(view.session_id),
                        content_type="application/octet-stream")


async def receipt_url(request: web.Request) -> web.StreamResponse:
    view = await _owned_session(request)
    await _state(request).service.receipt(view.session_id)  # 404 unless there is one
    return _json(ReceiptDownload(url=f"{_base_url(request)}/receipts/stark/receipt/{view.session_id}"))


async def receipt_download(request: web.Request) -> web.StreamResponse:
    view = await _owned_session(request)
    return web.Response(body=await _state(request).service.receipt(view.session_id),
                        content_type="application/octet-stream")


# account


async def version(request: web.Request) -> web.StreamResponse:
    return _json(VersionInfo(risc0_zkvm=list(_state(request).config.zkvm_versions)))


async def quotas(request: web.Request) -> web.StreamResponse:
    key = caller(request)
    await key.refresh(_state(request).service)
    return _json(Quotas(
        exec_cycle_limit=key.config.exec_cycle_limit_mcycles,
        concurrent_proofs=key.config.concurrent_proofs,
        cycle_budget=key.cycle_budget_left,
        cycle_usage=key.cycle_usage,
        dedicated_executor=0,
        dedicated_gpu=0,
    ))


async def snark_unsupported(request: web.Request) -> web.StreamResponse:
    if request.method == "POST":
        body = await read_body(request, _state(request).config.max_json_bytes, "the JSON body")
        SnarkReq.model_validate(parse_json(body))
    # A 4xx, not 501: the request is well formed but asks for something this server will never do.
    raise HttpProblem(400, "SnarkUnsupported", "zkray has no STARK-to-SNARK wrapper; verify the STARK receipt "
                      "(or its attestation on-chain) instead")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/images/upload/{image_id}", image_upload_url)
    r.add_put("/images/upload/{image_id}", image_upload_put)
    r.add_delete("/images/{image_id}", image_delete)
    r.add_get("/inputs/upload", _upload_url("inputs"))
    r.add_put("/inputs/upload/{uuid}", input_upload_put)
    r.add_delete("/inputs/{uuid}", input_delete)
    r.add_get("/receipts/upload", _upload_url("receipts"))
    r.add_put("/receipts/upload/{uuid}", receipt_upload_put)
    r.add_post("/sessions/create", session_create)
    r.add_get("/sessions/status/{uuid}", session_status)
    r.add_get("/sessions/logs/{uuid}", session_logs)
    r.add_get("/sessions/stop/{uuid}", session_stop)
    r.add_get("/sessions/exec_only_journal/{uuid}", exec_only_journal)
    r.add_get("/receipts/stark/receipt/{uuid}", receipt_download)
    r.add_get("/receipts/{uuid}", receipt_url)
    r.add_get("/version", version)
    r.add_get("/user/quotas", quotas)
    r.add_post("/snark/create", snark_unsupported)
    r.add_get("/snark/status/{uuid}", snark_unsupported)
