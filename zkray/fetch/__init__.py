"""Input fetching for the prover node: `ipfs://` through raced trustless gateways, or plain HTTP(S).

Content is verified against its CID block by block and against the job's input digest (SHA-256)
before anyone sees it. The error tree is drawn in `zkray.fetch.errors`.
"""

from zkray.fetch.breakers import Breaker, BreakerRegistry, LocalBreakers
from zkray.fetch.config import FetchConfig
from zkray.fetch.errors import (
    AllGatewaysFailed,
    BadCid,
    BadUrl,
    CircuitOpen,
    ContentMismatch,
    FetchError,
    GatewayError,
    InputDigestMismatch,
    PathNotFound,
    Timeout,
    TooLarge,
    UnsupportedContent,
)
from zkray.fetch.fetcher import InputFetcher, fetch_input, input_digest

__all__ = [
    "AllGatewaysFailed",
    "BadCid",
    "BadUrl",
    "Breaker",
    "BreakerRegistry",
    "CircuitOpen",
    "ContentMismatch",
    "FetchConfig",
    "FetchError",
    "GatewayError",
    "InputDigestMismatch",
    "InputFetcher",
    "LocalBreakers",
    "PathNotFound",
    "Timeout",
    "TooLarge",
    "UnsupportedContent",
    "fetch_input",
    "input_digest",
]
