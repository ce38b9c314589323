"""The Bonsai-compatible HTTP server: an aiohttp application over a `ProvingService`.

`create_app(service, config)` builds it; `start(app, host, port)` runs it on a socket and returns the
base URL. Three middlewares wrap every route, outermost first:

1. errors: every failure leaves as a JSON `{"type", "msg"}` body with a 4xx (or 503/500) status,
   aiohttp's own 404/405/413 included, so a client always gets something it can parse;
2. timeout: no request (body upload included) runs past `handler_timeout_s`;
3. auth: a known `x-api-key` (else 401, or 429 once an address has failed too often), a token from the
   key's bucket (else 429 with Retry-After), and an accepted `x-risc0-version` when the configuration
   restricts it.

Routes, methods and payloads are those of RISC Zero's bonsai-sdk (see docs/api.md and bonsai_handlers).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import ValidationError

from zkray.api.config import ApiConfig
from zkray.api.errors import ServiceError
from zkray.api.keys import FailedAuthLimiter, KeyRing, KeyState
from zkray.api.models import ErrorBody
from zkray.api.service import ProvingService
from zkray.api.uploads import UploadStore

log = logging.getLogger("zkray.api")

API_KEY_HEADER = "x-api-key"
VERSION_HEADER = "x-risc0-version"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SERVICE_STATUS: dict[str, int] = {
    "ImageInvalid": 400,
    "ImageIdMismatch": 400,
    "ImageMissing": 404,
    "SessionMissing": 404,
    "ReceiptMissing": 404,
    "ServiceBusy": 503,
}
"""HTTP status of each `ServiceError` type (anything else a service raises on purpose is a 400)."""


class HttpProblem(Exception):
    """Raised by handlers and middlewares; the error middleware turns it into a JSON error response."""

    def __init__(self, status: int, type: str, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.type = type
        self.msg = msg
        self.headers = headers or {}


@dataclass
class ApiState:
    """Everything the handlers share; one per application."""

    service: ProvingService
    config: ApiConfig
    keys: KeyRing
    failed_auth: FailedAuthLimiter
    inputs: UploadStore
    receipts: UploadStore
    clock: Callable[[], float]


STATE = web.AppKey("zkray_api_state", ApiState)
CALLER = web.RequestKey("zkray_api_caller", KeyState)  # the authenticated caller, per request


def error_response(status: int, type: str, msg: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=ErrorBody(type=type, msg=msg).model_dump_json(), status=status, headers=headers,
                        content_type="application/json")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HttpProblem as p:
        return error_response(p.status, p.type, p.msg, p.headers)
    except ServiceError as e:
        return error_response(SERVICE_STATUS.get(e.type, 400), e.type, str(e))
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
                             for err in e.errors(include_input=False, include_url=False))
        return error_response(400, "InvalidRequest", problems)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        headers = {k: v for k, v in e.headers.items() if k in ("Allow", "Retry-After")}
        return error_response(e.status, (e.reason or "HttpError").replace(" ", ""), e.reason or "", headers)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, "InternalErr", "internal error; the node logged it, retry later")


def _timeout_middleware(timeout_s: float) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def timeout_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            async with asyncio.timeout(timeout_s):
                return await handler(request)
        except TimeoutError:
            raise HttpProblem(503, "Timeout", f"the request took longer than {timeout_s:g} s; retry") from None

    return timeout_middleware


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    caller = state.keys.lookup(request.headers.get(API_KEY_HEADER))
    now = state.clock()
    if caller is None:
        wait = state.failed_auth.retry_after_s(request.remote or "", now)
        if wait is not None:
            raise HttpProblem(429, "TooManyFailedAuth", f"too many requests without a valid {API_KEY_HEADER} "
                              f"from this address; retry after {wait} s", {"Retry-After": str(wait)})
        raise HttpProblem(401, "Unauthorized", f"missing or unknown {API_KEY_HEADER} header; "
                          "ask the node's operator for an API key")
    if not caller.bucket.try_acquire(now):
        wait = caller.retry_after_s(now)
        raise HttpProblem(429, "RateLimited", f"key {caller.name} is over {caller.config.rate_per_s:g} requests/s; "
                          f"retry after {wait} s", {"Retry-After": str(wait)})
    accepted = state.config.accepted_versions
    version = request.headers.get(VERSION_HEADER)
    if accepted and version not in accepted:
        raise HttpProblem(400, "UnsupportedVersion", f"{VERSION_HEADER} {version!r} is not served here; "
                          f"supported: {list(accepted)}")
    request[CALLER] = caller
    return await handler(request)


def caller(request: web.Request) -> KeyState:
    return request[CALLER]


def create_app(service: ProvingService, config: ApiConfig, *, clock: Callable[[], float] = time.monotonic
               ) -> web.Application:
    """The Bonsai-compatible API over `service`. The caller owns the service (and closes it)."""
    from zkray.api.bonsai_handlers import add_routes

    if not config.keys:
        log.warning("the Bonsai API has no keys configured: every request will be refused with 401")
    app = web.Application(
        middlewares=[errors_middleware, _timeout_middleware(config.handler_timeout_s), auth_middleware],
        client_max_size=max(config.max_json_bytes, config.max_input_bytes, config.max_image_bytes,
                            config.max_receipt_bytes),
    )
    per_key_items, per_key_bytes = config.max_uploads_per_key, config.max_stored_bytes_per_key
    app[STATE] = ApiState(
        service=service,
        config=config,
        keys=KeyRing(config.keys, clock()),
        failed_auth=FailedAuthLimiter(config.failed_auth_per_s, config.failed_auth_burst),
        inputs=UploadStore(per_key_items, per_key_bytes),
        receipts=UploadStore(per_key_items, per_key_bytes),
        clock=clock,
    )
    add_routes(app)
    return app


async def start(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve `app` on host:port (0 = an ephemeral port); returns the runner (`await runner.cleanup()`) and URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, f"http://{host}:{bound}"
