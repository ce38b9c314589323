"""The node's settings for proving and caches; defaults documented beside each field.

The node's top-level settings model (file, environment, flags) embeds these; the actors take plain
arguments, so they never depend on this module.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zkray.policy.degradation import ProverBackend
from zkray.policy.retry import RetryPolicy
from zkray.zkvm.continuation.prove import DEFAULT_SEGMENT_CYCLES

MiB = 1024 * 1024
MAX_SEGMENT_CYCLES = 1 << 16
"""The largest segment whose receipt the multi-chip verifier accepts for every program: with every chip at
2^16 rows the LogUp term leaves 100.0 bits (a loop-heavy program's 2^17-cycle segment can reach 100.1, but
one that fills its multiply or divide chip too falls to 99, and the verifier refuses below 100); a node
must not plan segments whose receipts might not verify (tests/test_public_api.py computes the bound)."""
MIN_SEGMENT_CYCLES = 1 << 4
"""Smaller segments prove (the tests use 2^10) but are almost all fixed overhead (the 2^16-row byte table)."""


def check_segment_cycles(value: int) -> int:
    """`value` if it is a power of two within [MIN_SEGMENT_CYCLES, MAX_SEGMENT_CYCLES], else ValueError
    saying what to choose: shared by the settings and the pool (a request planned elsewhere)."""
    if value < 1 or value & (value - 1):
        raise ValueError(f"segment_cycles must be a power of two, got {value}")
    if not MIN_SEGMENT_CYCLES <= value <= MAX_SEGMENT_CYCLES:
        raise ValueError(
            f"segment_cycles {value} is outside [{MIN_SEGMENT_CYCLES}, {MAX_SEGMENT_CYCLES}]: the verifier "
            f"accepts segments of at most {MAX_SEGMENT_CYCLES} cycles"
        )
    return value


class ProvingConfig(BaseModel):
    """How proofs are scheduled on the Ray cluster."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backends: tuple[ProverBackend, ...] = Field(
        (ProverBackend.REMOTE, ProverBackend.GPU, ProverBackend.CPU),
        description="Backends this node may use; the fallback order is always remote → GPU → CPU.",
    )
    use_gpu: bool = Field(True, description="Use GPU nodes when the cluster has them (False: CPU tasks only).")
    cpus_per_task: float = Field(1.0, gt=0, description="CPU slots one CPU prove task takes.")
    gpus_per_task: float = Field(1.0, gt=0, description="GPUs one GPU prove task takes (fractions share a GPU).")
    cpus_per_gpu_task: float = Field(1.0, ge=0, description="CPU slots a GPU prove task takes beside its GPU.")
    remote_cpus_per_task: float = Field(0.0, ge=0, description="CPU slots a remote-prover call takes (it waits).")
    max_concurrent: int = Field(8, ge=1, description="Prove tasks in flight at once, all backends together.")
    task_timeout_s: float = Field(
        600.0, gt=0, description="An attempt still running after this long is hung: killed and retried."
    )
    max_attempts: int = Field(3, ge=1, le=20, description="Attempts per job (the brief's retry default).")
    retry_initial_s: float = Field(0.1, ge=0, description="First retry delay; doubles each attempt.")
    retry_max_s: float = Field(30.0, ge=0, description="Largest retry delay.")
    task_memory_mib: int | None = Field(
        None, ge=1, description="Address space (MiB) a CPU or GPU prove task may grow by, applied inside the "
        "worker as RLIMIT_AS over its size at the task's start and restored after; a proof that needs more "
        "fails its allocation (ProveOutOfMemory) instead of swapping or calling the OOM killer on the node. "
        "None: no limit."
    )  # fmt: skip
    oom_attempts: int = Field(
        2, ge=1, le=20, description="Attempts of a task that runs out of memory (a retry gets a fresh start, "
        "maybe another node); then the job fails, marked out of memory. Counted within max_attempts."
    )  # fmt: skip
    segment_cycles: int = Field(
        DEFAULT_SEGMENT_CYCLES, description="Cycles per segment of an ELF job (a power of two, at most 2^16: "
        "the largest at which every program's receipts verify): preflight plans with it, the pool proves one "
        "task per segment."
    )  # fmt: skip

    @field_validator("segment_cycles")
    @classmethod
    def _segment_cycles(cls, value: int) -> int:
        return check_segment_cycles(value)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            initial_delay_s=self.retry_initial_s,
            max_delay_s=max(self.retry_max_s, self.retry_initial_s),
        )


class CacheConfig(BaseModel):
    """Sizes and the disk directory of the program and proof caches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    directory: Path | None = Field(None, description="Disk tier root (programs/, proofs/); None: memory only.")
    program_bytes: int = Field(512 * MiB, gt=0, description="Programs kept in the object store.")
    program_disk_bytes: int = Field(4096 * MiB, gt=0, description="Programs kept on disk.")
    proof_bytes: int = Field(256 * MiB, gt=0, description="Receipts kept in the object store.")
    proof_disk_bytes: int = Field(2048 * MiB, gt=0, description="Receipts kept on disk.")
    proof_ttl_s: float = Field(24 * 3600.0, gt=0, description="A cached receipt answers repeat jobs this long.")
