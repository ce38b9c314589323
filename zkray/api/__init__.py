"""zkray's Bonsai-compatible proving API: the server, the client, and the service seam between them.

    service = LocalProvingService()                       # or the node's Ray-backed service
    app = create_app(service, ApiConfig.load())           # aiohttp application
    async with BonsaiClient(url, key) as client:
        receipt = await client.prove(image_id, input, timeout=600)   # verified before it is returned
"""

from zkray.api.bonsai_client import BonsaiClient, ExecuteResult, PollPolicy, verify_remote_receipt
from zkray.api.bonsai_server import create_app, start
from zkray.api.config import ApiConfig, ApiKey
from zkray.api.errors import (
    ApiError,
    BonsaiClientError,
    BonsaiHttpError,
    BonsaiUnreachable,
    ConfigError,
    ImageIdMismatch,
    ImageInvalid,
    ImageMissing,
    ProveTimeout,
    ReceiptMissing,
    ReceiptRejected,
    ServiceBusy,
    ServiceError,
    SessionFailed,
    SessionMissing,
)
from zkray.api.local_service import LocalProvingService
from zkray.api.remote_prover import BonsaiRemoteProver, UnknownProgram
from zkray.api.service import ProvingService, SessionRequest, SessionStats, SessionStatus, SessionView

__all__ = [
    "ApiConfig",
    "ApiError",
    "ApiKey",
    "BonsaiClient",
    "BonsaiClientError",
    "BonsaiHttpError",
    "BonsaiRemoteProver",
    "BonsaiUnreachable",
    "ConfigError",
    "ExecuteResult",
    "ImageIdMismatch",
    "ImageInvalid",
    "ImageMissing",
    "LocalProvingService",
    "PollPolicy",
    "ProveTimeout",
    "ProvingService",
    "ReceiptMissing",
    "ReceiptRejected",
    "ServiceBusy",
    "ServiceError",
    "SessionFailed",
    "SessionMissing",
    "SessionRequest",
    "SessionStats",
    "SessionStatus",
    "SessionView",
    "UnknownProgram",
    "create_app",
    "start",
    "verify_remote_receipt",
]
