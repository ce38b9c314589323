"""The fetch adapter's exception tree, drawn once:

    FetchError                    the input could not be fetched; never partial bytes
    ├── BadUrl                    the inputUrl is not an ipfs:// or http(s):// URL we can fetch
    ├── BadCid                    the CID in an ipfs:// URL does not parse
    ├── UnsupportedContent        valid IPLD we do not read (HAMT directory, dag-cbor, unknown hash)
    ├── PathNotFound              an ipfs://CID/path segment is not a link of that directory
    ├── TooLarge                  the input exceeds the size cap (streamed; aborted at the cap)
    ├── ContentMismatch           bytes that do not hash to the CID, or a malformed block
    │   └── InputDigestMismatch   the fetched input is not the one the job's inputDigest names
    ├── Timeout                   a gateway or the overall deadline ran out
    └── GatewayError              an HTTP status, refused connection or truncated body
        ├── CircuitOpen           every gateway's breaker is open: nothing was asked
        └── AllGatewaysFailed     every gateway failed, each for its own reason (see .errors)

`retryable` says whether asking again later can help: a caller's retry policy reads it rather than
matching on types. A content mismatch from one gateway is that gateway's fault and the race moves on;
`InputDigestMismatch` after a verified fetch is the job's fault and final.
"""

from __future__ import annotations


class FetchError(Exception):
    """Base of every error the fetch adapter raises on purpose."""

    retryable: bool = False


class BadUrl(FetchError):
    """The URL scheme or shape is not one we fetch; the message lists the accepted forms."""


class BadCid(FetchError):
    """The CID does not decode; the message quotes it."""


class UnsupportedContent(FetchError):
    """Well-formed content of a kind this adapter does not assemble; the message names the kind."""


class PathNotFound(FetchError):
    """A path segment under an ipfs:// root is missing from its directory."""


class TooLarge(FetchError):
    """More bytes than the configured cap; raise `FetchConfig.max_bytes` if the input is legitimate."""


class ContentMismatch(FetchError):
    """Bytes that do not match their content address, or a block that is not well formed."""


class InputDigestMismatch(ContentMismatch):
    """The assembled input's sha256 is not the job's `inputDigest`: the job is unprovable as posted."""


class Timeout(FetchError):
    """A per-gateway timeout or the overall deadline expired."""

    retryable = True


class GatewayError(FetchError):
    """An HTTP-level failure of one source; carries the status (None for a transport failure)."""

    retryable = True

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class CircuitOpen(GatewayError):
    """Every configured source is behind an open breaker; wait for the breakers' half-open time."""


class AllGatewaysFailed(GatewayError):
    """Every gateway failed; `.errors` maps gateway → its error, and the message summarises them."""

    def __init__(self, errors: dict[str, FetchError]) -> None:
        summary = "; ".join(f"{name}: {type(err).__name__}: {err}" for name, err in errors.items())
        super().__init__(f"all {len(errors)} gateways failed ({summary})")
        self.errors = errors
        self.retryable = any(err.retryable for err in errors.values())
        # Wait as asked only when every gateway asked: the soonest of their Retry-After hints.
        hints = [getattr(err, "retry_after_s", None) for err in errors.values()]
        if hints and all(h is not None for h in hints):
            self.retry_after_s = min(h for h in hints if h is not None)
