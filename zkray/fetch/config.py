"""The fetch adapter's settings, with the ancestor's defaults (BRIEF "Defaults worth keeping")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MiB = 1024 * 1024

DEFAULT_GATEWAYS = (
    "https://trustless-gateway.link",
    "https://ipfs.io",
    "https://dweb.link",
)


class FetchConfig(BaseModel):
    """How inputs are fetched. Every bound is here so that no loop in the adapter is unbounded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gateways: tuple[str, ...] = Field(
        DEFAULT_GATEWAYS, description="Trustless gateway base URLs, raced for every block."
    )
    max_bytes: int = Field(100 * MiB, gt=0, description="Cap on the assembled input; streamed, abort past it.")
    max_node_bytes: int = Field(
        4 * MiB, gt=0, description="Cap on one dag-pb node (directories, file roots); leaves use max_bytes."
    )
    max_blocks: int = Field(100_000, gt=0, description="Cap on blocks fetched for one input.")
    max_depth: int = Field(32, gt=0, description="Cap on the depth of a UnixFS DAG (and path length).")
    gateway_timeout_s: float = Field(30.0, gt=0, description="Per-request timeout against one gateway.")
    deadline_s: float = Field(120.0, gt=0, description="Overall deadline for one fetch_input call.")
    attempts: int = Field(3, ge=1, le=20, description="Tries per block race / HTTP GET (retryable errors).")
    backoff_initial_s: float = Field(0.1, ge=0, description="First retry delay; doubles each try.")
    backoff_max_s: float = Field(
        30.0, ge=0, description="Largest backoff delay; a longer Retry-After is honoured within the deadline."
    )
    jitter: float = Field(0.2, ge=0, lt=1, description="± fraction applied to each retry delay.")
    hedge_delay_s: float = Field(
        0.0, ge=0, description="Stagger between starting gateways in a race; 0 starts them all at once."
    )
    block_concurrency: int = Field(8, ge=1, le=256, description="Blocks of one file fetched in parallel.")
    max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed by plain HTTP(S) fetches.")

    @field_validator("gateways")
    @classmethod
    def _gateways_are_http(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"gateway {url!r} must be an http:// or https:// base URL")
        return tuple(url.rstrip("/") for url in value)

    @model_validator(mode="after")
    def _backoff_range(self) -> FetchConfig:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be at least backoff_initial_s")
        return self
