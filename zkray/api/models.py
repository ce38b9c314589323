"""Wire payloads of the Bonsai REST API, field for field as RISC Zero's `bonsai-sdk` crate declares them.

The names and shapes are the protocol, so they are kept exactly (`img`, `uuid`, `error_msg`, …): an
unmodified Bonsai client must parse what zkray answers, and zkray's client must parse what Bonsai answers.
Unknown fields are ignored on input so a newer SDK that adds one still works; types are strict, so a
string where a bool belongs is a 400, never a silent coercion.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class UploadRes(_Wire):
    """Answer to `GET /inputs/upload` and `GET /receipts/upload`: where to PUT the bytes, and their id."""

    url: str
    uuid: str


class ImgUploadRes(_Wire):
    """Answer to `GET /images/upload/{image_id}` when the image is not there yet (204 when it is)."""

    url: str


class ProofReq(_Wire):
    """Body of `POST /sessions/create`. `exec_cycle_limit` counts cycles (not millions), as Bento reads it."""

    img: str = Field(max_length=130)
    input: str = Field(max_length=64)
    assumptions: list[str] = Field(default_factory=list, max_length=64)
    execute_only: bool = False
    exec_cycle_limit: int | None = Field(None, ge=1, le=2**63 - 1)


class CreateSessRes(_Wire):
    """Answer to `POST /sessions/create`."""

    uuid: str


class SessionStats(_Wire):
    """Cycle counts of a finished session."""

    segments: int
    total_cycles: int
    cycles: int


class SessionStatusRes(_Wire):
    """Answer to `GET /sessions/status/{uuid}`.

    `status` is one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED; `state` says where a running
    session is (Setup, Executor, ProveSegments: n/m, Finalize); `elapsed_time` is in seconds.
    """

    status: str
    receipt_url: str | None = None
    error_msg: str | None = None
    state: str | None = None
    elapsed_time: float | None = None
    stats: SessionStats | None = None


class ReceiptDownload(_Wire):
    """Answer to `GET /receipts/{session_id}`: where to GET the receipt bytes."""

    url: str


class VersionInfo(_Wire):
    """Answer to `GET /version`."""

    risc0_zkvm: list[str]


class Quotas(_Wire):
    """Answer to `GET /user/quotas`; `exec_cycle_limit` is in millions of cycles, as in Bonsai."""

    exec_cycle_limit: int
    concurrent_proofs: int
    cycle_budget: int
    cycle_usage: int
    dedicated_executor: int
    dedicated_gpu: int


class SnarkReq(_Wire):
    """Body of `POST /snark/create` (accepted so the answer can say why it is refused)."""

    session_id: str


class ErrorBody(_Wire):
    """Every 4xx/5xx body: Bento's `ErrMsg` shape, a machine-readable `type` and a message saying what to do."""

    type: str
    msg: str
