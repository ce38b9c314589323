"""The node's one settings model: defaults beside each field, loaded from a file, the environment and flags.

Precedence: flags > environment (`ZKRAY_<FIELD>`, nested with `__`: `ZKRAY_PROVING__MAX_CONCURRENT=4`) >
file (`--config node.toml` or `.json`) > defaults. No configuration at all is the embedded default: a
local devnet, a demo requester and local Ray, so `python -m zkray.serve` runs the whole loop on a laptop.
Keys are never given on the command line (other users can read it): `--key-file` or `ZKRAY_PROVER_KEY`.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zkray.fetch.config import FetchConfig
from zkray.node.config import CacheConfig, ProvingConfig
from zkray.node.frontdoors import FrontDoorSettings

ENV_PREFIX = "ZKRAY_"


class DemoSettings(BaseModel):
    """The demo requester of the embedded default: a stream of jobs for the built-in guests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    jobs: int | None = Field(None, ge=0, description="Jobs to post; None: post until stopped.")
    interval_s: float = Field(1.0, ge=0, description="Seconds between two posted jobs.")
    tip_eth: float = Field(0.01, gt=0, description="Tip of each job (the engine's minimum is 0.0001).")
    max_n: int = Field(48, ge=2, le=4096, description="Largest fib n posted (bigger n: longer proofs).")
    expiration_s: int = Field(3600, ge=60, description="Each job's expiry (the engine's default, 1 h).")
    seed: int = Field(7, description="Seed of the job mix, so a demo run is reproducible.")


class NodeSettings(BaseModel):
    """Everything `zkray serve` reads. Chain fields left empty mean: start the embedded devnet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rpc_url: str | None = Field(None, description="Chain JSON-RPC URL; None starts an embedded devnet.")
    ws_url: str | None = Field(None, description="WebSocket URL for events; None polls over rpc_url.")
    engine: str | None = Field(None, description="ExecutionEngine address (required with rpc_url).")
    key_file: Path | None = Field(None, description="Prover key file (one hex line); else ZKRAY_PROVER_KEY.")
    attester_key_files: tuple[Path, ...] = Field((), description="Attester keys (one per file) this node signs with.")
    data_dir: Path = Field(Path(".zkray"), description="Journal (node.sqlite) and proof cache directory.")
    ray_address: str | None = Field(None, description="Ray cluster address; None starts local Ray.")
    queue_capacity: int = Field(256, ge=1, description="Jobs held in the priority queue (the worst is evicted).")
    scheduler_max_restarts: int = Field(-1, ge=-1, description="Times Ray restarts the scheduler actor if its "
                                        "process dies (-1: always); its queue comes from the journal.")  # fmt: skip
    max_jobs_in_flight: int = Field(4, ge=1, description="Jobs between fetch and submission at once.")
    min_margin: float = Field(0.2, description="Profit margin after gas for claim + submit (brief: 20 %).")
    claim_gas: int = Field(120_000, gt=0, description="Gas assumed for a claim when judging profit.")
    submit_gas: int = Field(400_000, gt=0, description="Gas assumed for a submission when judging profit.")
    initial_speed_hz: float = Field(2_000.0, gt=0, description="Proving speed (cycles/s) assumed until measured.")
    calibration: Path | None = Field(Path("~/.zkray/calibration.json"), description="`zkray calibrate` file, or a "
                                     "directory of them (one per node type): prices jobs per size on the live nodes "
                                     "(zkray.node.capacity); absent: initial_speed_hz.")  # fmt: skip
    gpu_memory_gib: float | None = Field(None, ge=0, description="GPU memory (GiB) a GPU prove task declares "
                                         "(nodes declare gpu_memory_gib); None: the calibration's.")  # fmt: skip
    reconcile_s: float = Field(30.0, gt=0, description="Period of the getPendingRequests sweep (missed events).")
    heartbeat_s: float = Field(2.0, gt=0, description="Period of the RPC health probe feeding the rpc breaker.")
    health_s: float = Field(0.5, gt=0, description="Period of the degradation-mode update.")
    reaper_s: float = Field(10.0, gt=0, description="Period of the stuck-job reaper.")
    stuck_after_s: float = Field(900.0, gt=0, description="A working job untouched this long is stepped back.")
    rpc_rate_per_s: float = Field(50.0, gt=0, description="Calls per second this node makes to the chain RPC.")
    rpc_burst: float = Field(100.0, ge=1, description="Calls the RPC rate limit lets through at once.")
    breaker_failures: int = Field(5, ge=1, description="Failures in breaker_window_s that open a breaker.")
    breaker_window_s: float = Field(60.0, gt=0, description="Window counted by the breakers.")
    breaker_open_s: float = Field(30.0, gt=0, description="How long an open breaker waits before probing.")
    recovery_s: float = Field(60.0, ge=0, description="Better signals needed this long before the mode improves.")
    submit_attempts: int = Field(10, ge=1, description="Submission tries (brief: 10, 1 s → 60 s).")
    submit_initial_s: float = Field(1.0, ge=0, description="First submission retry delay.")
    submit_max_s: float = Field(60.0, ge=0, description="Largest submission retry delay.")
    poll_events: bool = Field(False, description="Poll eth_getLogs instead of subscribing over WebSocket.")
    exit_when_done: bool = Field(False, description="Exit once the demo posted its jobs and all are settled.")
    progress: bool = Field(True, description="Show live progress (rich) on a terminal.")
    proving: ProvingConfig = Field(default_factory=ProvingConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    front: FrontDoorSettings = Field(default_factory=FrontDoorSettings, description="HTTP surfaces: status "
                                     "port, Bonsai API, orchestrator routes, pull mode, remote prover.")  # fmt: skip

    @property
    def embedded(self) -> bool:
        """No chain configured: the node brings its own devnet and demo requester."""
        return self.rpc_url is None

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "node.sqlite"


def load_settings(
    file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> NodeSettings:
    """Merge file < environment < flags (flags whose value is None are 'not given') and validate."""
    merged: dict[str, Any] = {}
    if file is not None:
        _deep_update(merged, _read_file(Path(file)))
    _deep_update(merged, _from_env(os.environ if env is None else env))
    _deep_update(merged, {k: v for k, v in (flags or {}).items() if v is not None})
    return NodeSettings.model_validate(merged)


def _read_file(path: Path) -> dict[str, Any]:
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a table of settings")
    return data


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """ZKRAY_FIELD=value, ZKRAY_SECTION__FIELD=value; values parsed as JSON when they parse (numbers, lists)."""
    out: dict[str, Any] = {}
    fields = set(NodeSettings.model_fields)
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        path = key[len(ENV_PREFIX) :].lower().split("__")
        if path[0] not in fields:
            continue  # ZKRAY_PROVER_KEY and friends are secrets read elsewhere, not settings
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _deep_update(target: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value
