"""The API layer's exception tree, drawn once:

    ApiError                        anything zkray's Bonsai-compatible API refuses
    ├── ServiceError                a proving service refused a request (the server maps each to a 4xx)
    │   ├── ImageInvalid            uploaded bytes are not a loadable RV32IM ELF              → 400
    │   ├── ImageIdMismatch         the ELF's image id is not the one it was uploaded under   → 400
    │   ├── ImageMissing            no built-in guest or uploaded ELF has this image id       → 404
    │   ├── SessionMissing          no session with this id (for this API key)                → 404
    │   ├── ReceiptMissing          the session has no receipt (not done, failed, execute-only) → 404
    │   └── ServiceBusy             the service keeps too many sessions; retry later           → 503
    ├── ConfigError                 the API configuration (keys file, environment) is unusable
    └── BonsaiClientError           zkray's Bonsai client gave up
        ├── BonsaiHttpError         the server answered a non-2xx status (status, type, msg, Retry-After)
        ├── BonsaiUnreachable       no answer at all (connection refused or reset, request timeout)
        ├── SessionFailed           the session ended FAILED, TIMED_OUT or ABORTED
        ├── ProveTimeout            the caller's deadline passed while the session was running
        └── ReceiptRejected         the downloaded receipt does not verify: never returned to the caller

Errors carry `retryable` so `zkray.policy.retry.classify` decides without parsing messages.
"""

from __future__ import annotations


class ApiError(Exception):
    """Base of every error the API layer raises on purpose."""

    retryable = False


class ServiceError(ApiError):
    """A proving service refused a request; `type` is the Bonsai/Bento error type sent to the client."""

    type = "ServiceError"


class ImageInvalid(ServiceError):
    """The uploaded image is not an ELF this node can load; rebuild it for RV32IM (see docs/guest-abi.md)."""

    type = "ImageInvalid"


class ImageIdMismatch(ServiceError):
    """The uploaded ELF hashes to another image id; upload it under the id `zkray` computes for it."""

    type = "ImageIdMismatch"


class ImageMissing(ServiceError):
    """Unknown image id: upload the ELF first (`GET /images/upload/{id}` then PUT) or use a built-in guest."""

    type = "ImageMissing"


class SessionMissing(ServiceError):
    """No such session for this API key."""

    type = "SessionMissing"


class ReceiptMissing(ServiceError):
    """The session has no receipt: still running, failed, stopped, or execute-only."""

    type = "ReceiptMissing"


class ServiceBusy(ServiceError):
    """The service holds as many sessions as it may; retry after some finish."""

    type = "ServiceBusy"
    retryable = True


class ConfigError(ApiError):
    """The API configuration cannot be used; the message names the source and the field."""


class BonsaiClientError(ApiError):
    """zkray's Bonsai client could not get a verified result."""


class BonsaiHttpError(BonsaiClientError):
    """A non-2xx answer. 429 and 5xx are retryable; `retry_after_s` carries the server's Retry-After."""

    def __init__(self, status: int, type: str, msg: str, *, retry_after_s: float | None = None) -> None:
        self.status = status
        self.type = type
        self.msg = msg
        self.retry_after_s = retry_after_s
        self.retryable = status == 429 or status >= 500
        super().__init__(f"HTTP {status} {type}: {msg}")


class BonsaiUnreachable(BonsaiClientError):
    """The server did not answer (refused, reset, timed out); retryable: it may be restarting."""

    retryable = True


class SessionFailed(BonsaiClientError):
    """The remote session ended without a receipt; `status` is FAILED, TIMED_OUT or ABORTED."""

    def __init__(self, session_id: str, status: str, error_msg: str | None) -> None:
        self.session_id = session_id
        self.status = status
        self.error_msg = error_msg
        self.retryable = status == "TIMED_OUT"
        super().__init__(f"session {session_id} ended {status}: {error_msg or 'no error message'}")


class ProveTimeout(BonsaiClientError):
    """The deadline passed; the remote session (if one was created) was asked to stop. Retry with a longer timeout."""

    retryable = True

    def __init__(self, message: str, session_id: str | None = None) -> None:
        self.session_id = session_id
        super().__init__(message)


class ReceiptRejected(BonsaiClientError):
    """The remote prover's receipt does not verify (tampered, wrong image, wrong journal); never trust it."""
