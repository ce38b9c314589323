"""Settings of both sides of orchestrator mode; defaults follow the Nexus node (seed 004) unless noted."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zkray.orchestrator.keys import DEFAULT_KEY_ENV, DEFAULT_KEY_FILE


class ServerConfig(BaseModel):
    """How the orchestrator hands out tasks and judges submissions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_batch: int = Field(50, ge=1, le=1000, description="Most tasks served by one POST /v3/tasks.")
    task_ttl_s: float = Field(3600.0, gt=0, description="A task's deadline, counted from its creation.")
    lease_s: float = Field(
        600.0, ge=0, description="A served, unsubmitted task is served again after this long (0: at once)."
    )
    poll_rate: float = Field(2.0, gt=0, description="Task requests per second each node may make (token bucket).")
    poll_burst: float = Field(5.0, ge=1, description="Task requests a node may make back to back.")
    max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest request body; a submission carries a whole receipt."
    )
    max_tracked_nodes: int = Field(10_000, ge=1, description="Nodes whose poll rate is remembered (oldest dropped).")
    verify_concurrency: int = Field(2, ge=1, description="Receipts verified at once, off the event loop.")


class WorkerConfig(BaseModel):
    """How a pull worker fetches, proves, submits and reports. Every loop it runs is bounded by these."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    orchestrator_url: str = Field(..., description="Base URL of the orchestrator, e.g. http://127.0.0.1:8080.")
    node_id: str = Field("", description="This node's id; empty: derived from the public key.")
    key_file: Path = Field(DEFAULT_KEY_FILE, description="Ed25519 seed (hex); created 0600 when absent.")
    key_env: str = Field(DEFAULT_KEY_ENV, description="Variable that, when set, holds the seed instead.")
    batch_size: int = Field(10, ge=1, le=1000, description="Tasks asked for per fetch (Nexus BATCH_SIZE).")
    low_water_mark: int = Field(25, ge=1, description="Fetch only while fewer tasks than this wait or run.")
    max_queue: int = Field(100, ge=1, description="Most tasks held locally (Nexus TASK_QUEUE_SIZE).")
    provers: int = Field(1, ge=1, le=64, description="Tasks proven at once.")
    idle_poll_s: float = Field(0.5, gt=0, description="How often a full queue is looked at again.")
    backoff_initial_s: float = Field(30.0, ge=0, description="First wait after a 404/429/error; doubles each time.")
    backoff_max_s: float = Field(60.0, ge=0, description="Longest self-chosen wait (Nexus caps at 60 s).")
    backoff_jitter: float = Field(0.2, ge=0, lt=1, description="± fraction applied to each backoff.")
    max_retry_after_s: float = Field(600.0, gt=0, description="A server's Retry-After is honoured up to this.")
    max_404s: int = Field(3, ge=1, description="Consecutive 'no tasks' answers before the worker stops fetching.")
    dedup_capacity: int = Field(500, ge=1, description="Recent task ids remembered (Nexus MAX_COMPLETED_TASKS).")
    dedup_ttl_s: float = Field(3600.0, gt=0, description="How long a task id counts as recent.")
    submit_attempts: int = Field(10, ge=1, le=50, description="Tries per submission (brief: 10).")
    submit_backoff_initial_s: float = Field(1.0, ge=0, description="First retry delay of a submission.")
    submit_backoff_max_s: float = Field(60.0, ge=0, description="Longest retry delay of a submission.")
    request_timeout_s: float = Field(10.0, gt=0, description="Timeout of one HTTP request (Nexus: 10 s).")
    stats_interval_s: float = Field(30.0, gt=0, description="Statistics report period (Nexus: 30 s).")
    seed: int | None = Field(None, description="Seed for backoff jitter; None: random (set it in tests).")

    @field_validator("orchestrator_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"orchestrator_url {value!r} must start with http:// or https://")
        return value.rstrip("/")
