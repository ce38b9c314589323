"""An async client for Bonsai-compatible proving services: another zkray cluster, or RISC Zero's Bonsai.

It follows the bonsai-sdk request sequence (upload image, upload input, create session, poll status,
download receipt) and adds what a node needs from a remote prover: bounded backoff while polling, 429s
honoured (Retry-After), every request and the whole proof under a deadline, response sizes capped, the
API key sent only to the server's own origin, and the receipt verified locally before it is returned.
A receipt that does not verify, or that proves a built-in guest on some other input, is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from zkray.api.errors import (
    BonsaiHttpError,
    BonsaiUnreachable,
    ProveTimeout,
    ReceiptRejected,
    SessionFailed,
)
from zkray.api.models import (
    CreateSessRes,
    ErrorBody,
    ImgUploadRes,
    ProofReq,
    Quotas,
    ReceiptDownload,
    SessionStatusRes,
    UploadRes,
    VersionInfo,
)
from zkray.zkvm.errors import ZkvmError
from zkray.zkvm.guests import by_image_id
from zkray.zkvm.receipt import MAX_JOURNAL, MAX_SEAL, Receipt

log = logging.getLogger("zkray.api.client")

API_KEY_HEADER = "x-api-key"
VERSION_HEADER = "x-risc0-version"
DEFAULT_VERSION = "zkray-0.1"
MAX_JSON_BYTES = 1 << 20
MAX_RECEIPT_BYTES = MAX_SEAL + MAX_JOURNAL + 4096


@dataclass(frozen=True)
class PollPolicy:
    """Status polling: the first wait, doubling up to `max_s`; a 429 with Retry-After waits that long (at most
    `max_429_s`) and is retried up to `max_429_retries` times."""

    initial_s: float = 0.05
    max_s: float = 2.0
    multiplier: float = 2.0
    max_429_retries: int = 8
    max_429_s: float = 30.0
    max_transient_failures: int = 10  # status polls in a row that may fail (server restarting) before giving up


@dataclass(frozen=True)
class ExecuteResult:
    """What an execute-only session returns: the journal and the cycle counts, no proof."""

    session_id: str
    journal: bytes
    status: SessionStatusRes


class BonsaiClient:
    """One server, one API key. Use as `async with BonsaiClient(url, key) as c: receipt = await c.prove(...)`."""

    def __init__(self, url: str, api_key: str, *, version: str = DEFAULT_VERSION, request_timeout_s: float = 30.0,
                 poll: PollPolicy | None = None) -> None:
        self.url = url.rstrip("/")
        self._origin = _origin(self.url)
        self._key = api_key
        self._version = version
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._poll = poll or PollPolicy()
        self._http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"BonsaiClient({self.url!r})"  # never the key

    async def __aenter__(self) -> BonsaiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # transport

    def _headers(self, url: str) -> dict[str, str]:
        headers = {VERSION_HEADER: self._version}
        if _origin(url) == self._origin:  # a URL the server hands out elsewhere never sees the key
            headers[API_KEY_HEADER] = self._key
        return headers

    async def _request(self, method: str, url: str, *, body: bytes | None = None, json_body: Any = None,
                       limit: int = MAX_JSON_BYTES) -> tuple[int, bytes]:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        if not url.startswith(("http://", "https://")):
            url = f"{self.url}{url}"
        data = json.dumps(json_body).encode() if json_body is not None else body
        headers = self._headers(url)
        if json_body is not None:
            headers["content-type"] = "application/json"
        for attempt in range(self._poll.max_429_retries + 1):
            try:
                async with self._http.request(method, url, data=data, headers=headers, allow_redirects=False) as r:
                    # A 429 with Retry-After is "wait" (rate, concurrency); without it ("budget spent") it is final.
                    if r.status == 429 and "Retry-After" in r.headers and attempt < self._poll.max_429_retries:
                        wait = _retry_after(r.headers.get("Retry-After"), self._poll.max_429_s)
                        log.info("%s %s: 429, waiting %.1f s", method, urlsplit(url).path, wait)
                    else:
                        payload = await _read_limited(r, limit)
                        if not 200 <= r.status < 300:  # redirects included: this protocol has none
                            raise _http_error(r.status, payload, r.headers.get("Retry-After"))
                        return r.status, payload
            except (aiohttp.ClientError, TimeoutError) as e:
                raise BonsaiUnreachable(f"{method} {urlsplit(url).path}: {type(e).__name__}: {e}") from e
            await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _json(self, method: str, path: str, model: type[Any], json_body: Any = None) -> Any:
        _, payload = await self._request(method, path, json_body=json_body)
        return _parse(model, payload, path)

    # the bonsai-sdk surface

    async def has_img(self, image_id: str) -> bool:
        status, _ = await self._request("GET", f"/images/upload/{image_id}")
        return status == 204

    async def upload_img(self, image_id: str, elf: bytes) -> bool:
        """Upload an ELF under its image id; True if the server already had it (nothing sent)."""
        status, payload = await self._request("GET", f"/images/upload/{image_id}")
        if status == 204:
            return True
        url = _parse(ImgUploadRes, payload, f"/images/upload/{image_id}").url
        await self._request("PUT", url, body=elf)
        return False

    async def _upload(self, kind: str, data: bytes) -> str:
        slot: UploadRes = await self._json("GET", f"/{kind}/upload", UploadRes)
        await self._request("PUT", slot.url, body=data)
        return slot.uuid

    async def upload_input(self, data: bytes) -> str:
        return await self._upload("inputs", data)

    async def upload_receipt(self, data: bytes) -> str:
        return await self._upload("receipts", data)

    async def create_session(self, image_id: str, input_id: str, *, assumptions: tuple[str, ...] = (),
                             execute_only: bool = False, exec_cycle_limit: int | None = None) -> str:
        req = ProofReq(img=image_id, input=input_id, assumptions=list(assumptions), execute_only=execute_only,
                       exec_cycle_limit=exec_cycle_limit)
        res: CreateSessRes = await self._json("POST", "/sessions/create", CreateSessRes, req.model_dump())
        return res.uuid

    async def session_status(self, session_id: str) -> SessionStatusRes:
        return await self._json("GET", f"/sessions/status/{session_id}", SessionStatusRes)  # type: ignore[no-any-return]

    async def logs(self, session_id: str) -> str:
        _, payload = await self._request("GET", f"/sessions/logs/{session_id}")
        return payload.decode("utf-8", "replace")

    async def stop(self, session_id: str) -> None:
        await self._request("GET", f"/sessions/stop/{session_id}")

    async def exec_only_journal(self, session_id: str) -> bytes:
        _, payload = await self._request("GET", f"/sessions/exec_only_journal/{session_id}", limit=MAX_JOURNAL)
        return payload

    async def download(self, url: str) -> bytes:
        _, payload = await self._request("GET", url, limit=MAX_RECEIPT_BYTES)
        return payload

    async def receipt_download(self, session_id: str) -> bytes:
        res: ReceiptDownload = await self._json("GET", f"/receipts/{session_id}", ReceiptDownload)
        return await self.download(res.url)

    async def version(self) -> VersionInfo:
        return await self._json("GET", "/version", VersionInfo)  # type: ignore[no-any-return]

    async def quotas(self) -> Quotas:
        return await self._json("GET", "/user/quotas", Quotas)  # type: ignore[no-any-return]

    # what a node calls

    async def wait(self, session_id: str, timeout_s: float) -> SessionStatusRes:
        """Poll until the session is no longer RUNNING; ProveTimeout after `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        delay = self._poll.initial_s
        failures = 0
        state = "RUNNING"
        while True:
            try:
                status = await self.session_status(session_id)
            except (BonsaiUnreachable, BonsaiHttpError) as e:
                # A restarting server (refused, 5xx) is waited out; anything else, or too many in a row, is not.
                failures += 1
                if not e.retryable or failures > self._poll.max_transient_failures:
                    raise
                log.info("polling session %s: %s (%d in a row)", session_id, e, failures)
            else:
                if status.status != "RUNNING":
                    return status
                failures, state = 0, status.state or "RUNNING"
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ProveTimeout(f"session {session_id} still {state} after {timeout_s:g} s", session_id)
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * self._poll.multiplier, self._poll.max_s)

    async def prove(self, image_id: bytes, input: bytes, *, timeout: float, elf: bytes | None = None,
                    cycle_limit: int | None = None) -> Receipt:
        """A verified receipt of `image_id` on `input` (uploading `elf` first if given). Stops the session on
        timeout; raises SessionFailed, ReceiptRejected, BonsaiHttpError, BonsaiUnreachable, ProveTimeout."""
        session_id, status = await self._run(image_id, input, timeout, elf, cycle_limit, execute_only=False)
        data = await (self.download(status.receipt_url) if status.receipt_url else self.receipt_download(session_id))
        return await asyncio.to_thread(verify_remote_receipt, data, image_id, input)

    async def execute(self, image_id: bytes, input: bytes, *, timeout: float, elf: bytes | None = None,
                      cycle_limit: int | None = None) -> ExecuteResult:
        """Run an execute-only session: journal and cycle counts, no proof (nothing here is verified)."""
        session_id, status = await self._run(image_id, input, timeout, elf, cycle_limit, execute_only=True)
        return ExecuteResult(session_id, await self.exec_only_journal(session_id), status)

    async def _run(self, image_id: bytes, input: bytes, timeout: float, elf: bytes | None, cycle_limit: int | None,
                   *, execute_only: bool) -> tuple[str, SessionStatusRes]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        session_id: str | None = None
        try:
            async with asyncio.timeout(timeout):
                if elf is not None:
                    await self.upload_img(image_id.hex(), elf)
                input_id = await self.upload_input(input)
                session_id = await self.create_session(image_id.hex(), input_id, execute_only=execute_only,
                                                       exec_cycle_limit=cycle_limit)
                status = await self.wait(session_id, max(deadline - loop.time(), 0.0))
        except (TimeoutError, ProveTimeout):
            if session_id is not None:
                await self._stop_quietly(session_id)
            raise ProveTimeout(f"no result within {timeout:g} s (session {session_id}); it was stopped",
                               session_id) from None
        if status.status != "SUCCEEDED":
            raise SessionFailed(session_id, status.status, status.error_msg)
        return session_id, status

    async def _stop_quietly(self, session_id: str) -> None:
        try:
            async with asyncio.timeout(self._timeout.total or 30.0):
                await self.stop(session_id)
        except (BonsaiHttpError, BonsaiUnreachable, TimeoutError) as e:
            log.warning("could not stop remote session %s: %s", session_id, e)


def verify_remote_receipt(data: bytes, image_id: bytes, input: bytes) -> Receipt:
    """Decode and verify; for a built-in guest also check that the journal is about *our* input."""
    try:
        receipt = Receipt.decode(data)
        receipt.verify(image_id)
    except ZkvmError as e:
        raise ReceiptRejected(f"the remote receipt does not verify: {e}") from e
    guest = by_image_id(image_id)
    if guest is not None:
        try:
            expected = guest.input_bytes(guest.parse_input(input))
        except ZkvmError as e:
            raise ReceiptRejected(f"cannot check the receipt against the input: {e}") from e
        if not receipt.journal.startswith(expected):
            raise ReceiptRejected("the remote receipt verifies but proves another input than the one sent")
    return receipt


async def _read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    if resp.content_length is not None and resp.content_length > limit:
        raise BonsaiHttpError(502, "ResponseTooLarge", f"the server's answer ({resp.content_length} bytes) "
                              f"exceeds this client's limit of {limit}")
    body = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise BonsaiHttpError(502, "ResponseTooLarge", f"the server's answer exceeds {limit} bytes")
    return bytes(body)


def _parse(model: type[Any], payload: bytes, path: str) -> Any:
    try:
        return model.model_validate_json(payload)
    except ValueError as e:
        raise BonsaiHttpError(502, "BadResponse", f"{path}: the server's answer is not a {model.__name__}: "
                              f"{str(e)[:300]}") from None


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in: what decides where the key may go."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # a port that is not a port: matches no origin, so it never gets the key
        return "", "", None
    return scheme, (parts.hostname or "").lower(), port


def _retry_after(value: str | None, cap: float) -> float:
    try:
        return min(max(float(value), 0.0), cap) if value else 1.0
    except ValueError:
        return 1.0  # an HTTP date, or garbage: one second


def _http_error(status: int, payload: bytes, retry_after: str | None) -> BonsaiHttpError:
    try:
        err = ErrorBody.model_validate_json(payload)
        type_, msg = err.type, err.msg
    except ValueError:
        type_, msg = "HttpError", payload[:500].decode("utf-8", "replace")
    wait = _retry_after(retry_after, 3600.0) if retry_after else None
    return BonsaiHttpError(status, type_, msg, retry_after_s=wait)
