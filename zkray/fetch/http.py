"""One bounded HTTP GET: a timeout over the whole exchange, a streamed size cap, typed failures.

Everything the fetcher downloads goes through `get_bounded`, so the cap and the timeout cannot be
forgotten by a caller: a body is read in chunks and abandoned the moment it passes `limit`, and a
connection that stops sending is cut at `timeout_s` whatever stage it is in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp

from zkray.fetch.errors import GatewayError, Timeout, TooLarge

_CHUNK = 64 * 1024


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date; the backoff schedule applies instead


def _status_error(url: str, resp: aiohttp.ClientResponse) -> GatewayError:
    status = resp.status
    retryable = status in (408, 425, 429) or status >= 500
    if status == 429:
        hint = "rate limited; slow down or add sources"
    elif status in (404, 410):
        hint = "this source does not hold it"
    elif retryable:
        hint = "a server-side failure; worth retrying"
    else:
        hint = "check the URL"
    err = GatewayError(
        f"GET {url} answered HTTP {status} {resp.reason or ''}".rstrip() + f" ({hint})",
        status=status,
        retry_after_s=_retry_after(resp.headers),
    )
    err.retryable = retryable
    return err


async def get_bounded(
    session: aiohttp.ClientSession,
    url: str,
    *,
    limit: int,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    expect_content_type: str | None = None,
    max_redirects: int = 0,
    too_large: type[Exception] = TooLarge,
) -> bytes:
    """GET `url` and return its body, or raise GatewayError, Timeout or `too_large` (past `limit`)."""
    try:
        async with asyncio.timeout(timeout_s):
            async with session.get(
                url,
                headers=dict(headers or {}),
                allow_redirects=max_redirects > 0,
                max_redirects=max(max_redirects, 1),
            ) as resp:
                if resp.status != 200:
                    raise _status_error(url, resp)
                if expect_content_type is not None:
                    got = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                    if got != expect_content_type:
                        err = GatewayError(
                            f"GET {url} answered Content-Type {got!r}, not {expect_content_type!r}: "
                            "the server is not a trustless gateway; remove it from the gateway list",
                            status=resp.status,
                        )
                        err.retryable = False
                        raise err
                if resp.content_length is not None and resp.content_length > limit:
                    raise too_large(f"GET {url} announces {resp.content_length} bytes, over the cap of {limit}")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    body += chunk
                    if len(body) > limit:
                        raise too_large(f"GET {url} sent more than the cap of {limit} bytes; aborted")
                return bytes(body)
    except TimeoutError as exc:
        raise Timeout(f"GET {url} did not finish within {timeout_s:g} s") from exc
    except aiohttp.TooManyRedirects as exc:
        raise GatewayError(f"GET {url} redirected more than {max_redirects} times", status=None) from exc
    except aiohttp.ClientPayloadError as exc:
        raise GatewayError(f"GET {url}: body truncated or malformed ({exc})", status=200) from exc
    except aiohttp.ClientError as exc:
        raise GatewayError(f"GET {url} failed: {type(exc).__name__}: {exc}", status=None) from exc
