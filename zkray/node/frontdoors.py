"""The node's HTTP front doors, built in one place from `FrontDoorSettings`:

- **status port** (`status_port`): `/metrics`, `/healthz`, `/readyz`, the dashboard at `/` and its
  `/api/status`, rendered from the running node (`zkray.observe.node_status_source`), plus the
  orchestrator's `/v3/...` routes when `orchestrate` is set. No API key here: probes and Prometheus send
  none, and orchestrator submissions are authenticated by their Ed25519 signature.
- **API port** (`api_port`): the Bonsai-compatible API (`zkray.api.create_app`) over a
  `NodeProvingService`: API sessions are jobs on the node's scheduler queue (journaled, resumed after a
  restart), proved by the node's Ray proving pool with its breakers and proof cache. Keys, quotas and
  limits come from the API config (`api_config_file`, `ZKRAY_API_CONFIG`, `ZKRAY_API_KEYS`).
- **remote backend** (`remote_url`): `BonsaiRemoteProver`, the first link of the pool's remote → GPU →
  CPU chain, so this cluster offloads to another zkray cluster (or Bonsai).
- **pull mode** (`orchestrator_url`): see `zkray.node.pull_mode`.

The two ports are separate applications on purpose: the API's key middleware would answer the probes 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from zkray.api import ApiConfig, BonsaiRemoteProver, create_app
from zkray.api import start as start_api
from zkray.node.api_jobs import NodeProvingService
from zkray.node.ray_service import RayProvingService, scheduler_admission
from zkray.observe import NodeStatus, NodeStatusSource, add_routes, configure_logging, node_status_source
from zkray.orchestrator import OrchestratorServer, ServerConfig

log = logging.getLogger("zkray.node.frontdoors")
REMOTE_KEY_ENV = "ZKRAY_REMOTE_API_KEY"


class FrontDoorSettings(BaseModel):
    """Which HTTP surfaces the node opens, and where. Ports: None = off, 0 = an ephemeral port."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="Address the ports bind (0.0.0.0 to serve other machines).")
    status_port: int | None = Field(None, ge=0, le=65535, description="Metrics, probes and dashboard (e.g. 9464).")
    api_port: int | None = Field(None, ge=0, le=65535, description="Bonsai-compatible API (e.g. 8080).")
    api_config_file: Path | None = Field(
        None, description="ApiConfig JSON (keys, quotas, limits); else $ZKRAY_API_CONFIG / $ZKRAY_API_KEYS."
    )
    api_max_concurrent: int = Field(4, ge=1, description="API sessions proving at once (the rest wait, Queued).")
    api_session_timeout_s: float = Field(600.0, gt=0, description="An API session running longer is TIMED_OUT.")
    orchestrate: bool = Field(False, description="Serve orchestrator routes (/v3/tasks ...) on the status port.")
    orchestrator_url: str | None = Field(None, description="Pull mode: fetch tasks from this orchestrator.")
    node_key_file: Path | None = Field(None, description="Pull mode's Ed25519 key (default ~/.zkray/node_key).")
    worker: dict[str, Any] = Field(default_factory=dict, description="Pull mode: WorkerConfig overrides.")
    remote_url: str | None = Field(None, description="A Bonsai-compatible prover to offload to (remote backend).")
    remote_key_file: Path | None = Field(None, description=f"Its API key (one line); else ${REMOTE_KEY_ENV}.")
    remote_timeout_s: float = Field(600.0, gt=0, description="Longest a remote proof may take.")


FLAGS = ("status_port", "api_port", "api_config_file", "host", "orchestrate", "orchestrator_url", "remote_url")
"""The `zkray serve` flags (argparse dests) that set `FrontDoorSettings` fields of the same name."""


def front_flags(args: Any) -> dict[str, Any]:
    """`{"front": {...}}` for the settings loader from parsed `zkray serve` flags (only those given)."""
    given = {name: getattr(args, name) for name in FLAGS if getattr(args, name, None) is not None}
    return {"front": given} if given else {}


def remote_prover(front: FrontDoorSettings, env: Mapping[str, str] | None = None) -> BonsaiRemoteProver | None:
    """The pool's remote backend, or None when no `remote_url` is set. The key is read from a file or the
    environment, never a flag (other users can read command lines)."""
    if front.remote_url is None:
        return None
    env = os.environ if env is None else env
    key = front.remote_key_file.read_text().strip() if front.remote_key_file else env.get(REMOTE_KEY_ENV, "").strip()
    if not key:
        raise ValueError(f"remote_url is set but no key: set remote_key_file or ${REMOTE_KEY_ENV}")
    return BonsaiRemoteProver(front.remote_url.rstrip("/"), SecretStr(key), timeout_s=front.remote_timeout_s)


SECRET_ENVS = ("ZKRAY_PROVER_KEY", "ZKRAY_ATTESTER_KEY", "ZKRAY_NODE_KEY", REMOTE_KEY_ENV)
"""Environment variables that may hold a key this node uses."""


def log_secrets(settings: Any, env: Mapping[str, str] | None = None) -> list[str]:
    """Every secret the node may hold, for the log scrubber: prover, attester, pull-worker and remote keys
    (from files and the environment) and the API keys. A file that cannot be read is skipped here; the
    part that needs it reports that itself."""
    env = os.environ if env is None else env
    front: FrontDoorSettings = settings.front
    found = [env.get(name, "") for name in SECRET_ENVS]
    for path in (settings.key_file, *settings.attester_key_files, front.remote_key_file, front.node_key_file):
        if path is not None:
            with contextlib.suppress(OSError):
                found.append(Path(path).read_text().strip())
    if front.api_port is not None:
        with contextlib.suppress(Exception):
            found += [k.key.get_secret_value() for k in ApiConfig.load(front.api_config_file, env).keys]
    return [s for s in found if s]


def json_logs(settings: Any, level: int = logging.INFO, stream: Any = None) -> Any:
    """`zkray serve --json-logs`: JSON lines on stderr with every key of `log_secrets` scrubbed, in place
    of the plain handler the command line installed first."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() != "zkray-json"]:
        root.removeHandler(handler)
    return configure_logging(level, stream=stream, secrets=log_secrets(settings))


class WithExtraWork:
    """A status source that adds work the journal does not hold (API sessions, orchestrator tasks): their
    proofs and cycles to the counters, and what is proving now to `proving_now`."""

    def __init__(self, base: Any, extra: Callable[[], tuple[list[str], int, int]]) -> None:
        self._base = base
        self._extra = extra

    async def status(self) -> NodeStatus:
        status: NodeStatus = await self._base.status()
        proving, proofs, cycles = self._extra()
        return status.model_copy(update={
            "proving_now": [*status.proving_now, *proving], "proofs": status.proofs + proofs,
            "cycles_proved": status.cycles_proved + cycles,
        })  # fmt: skip

    async def run(self, cancel: asyncio.Event) -> None:
        await self._base.run(cancel)


@dataclass
class FrontDoors:
    """The started surfaces; `await close()` stops them (the API's sessions first)."""

    status_url: str | None = None
    api_url: str | None = None
    service: RayProvingService | None = None
    orchestrator: OrchestratorServer | None = None
    source: Any = None
    _runners: list[web.AppRunner] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _cancel: asyncio.Event = field(default_factory=asyncio.Event)

    def describe(self) -> list[str]:
        lines = []
        if self.status_url:
            lines.append(f"dashboard and metrics at {self.status_url}/ ({self.status_url}/metrics)")
        if self.orchestrator is not None:
            lines.append(f"orchestrator routes at {self.status_url}/v3/tasks")
        if self.api_url:
            lines.append(f"Bonsai-compatible API at {self.api_url}")
        return lines

    async def close(self) -> None:
        self._cancel.set()
        if self.service is not None:
            await self.service.close()
        for runner in reversed(self._runners):
            await runner.cleanup()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def open_status_port(
    doors: FrontDoors, front: FrontDoorSettings, source: NodeStatusSource, *, orchestrator: ServerConfig | None
) -> None:
    """Serve `source` (and the orchestrator routes when `orchestrator` is given) on `front.status_port`."""
    if front.status_port is None:
        return
    limit = orchestrator.max_body_bytes if orchestrator is not None else 1024 * 1024
    app = web.Application(client_max_size=limit)
    add_routes(app, source)
    if orchestrator is not None:
        doors.orchestrator = OrchestratorServer(orchestrator)
        doors.orchestrator.attach(app)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    doors._runners.append(runner)
    await web.TCPSite(runner, front.host, front.status_port).start()
    doors.status_url = f"http://{front.host}:{runner.addresses[0][1]}"
    doors.source = source
    if hasattr(source, "run"):  # chart history even while nobody has the page open
        doors._tasks.append(asyncio.create_task(source.run(doors._cancel), name="status-sampler"))


async def start_front_doors(
    front: FrontDoorSettings,
    node: Any,
    *,
    running: Callable[[], bool],
    api: ApiConfig | None = None,
    env: Mapping[str, str] | None = None,
    announce: bool = False,
) -> FrontDoors:
    """Open the node's status port and Bonsai API as `front` says; `node` is a built `zkray.node.pipeline.Node`
    (its prover's `run` loop is driven by `node.run`). `running()` says whether the node's sources run
    (readiness). `api` overrides the API config that would be loaded from the settings and environment."""
    doors = FrontDoors()
    try:
        if front.api_port is not None:
            config = api or ApiConfig.load(front.api_config_file, env)
            by_mode = scheduler_admission(node.scheduler)

            def admission() -> str | None:
                return by_mode() if running() else "the node is stopping"

            # sessions are the node's jobs: on its scheduler's queue, journaled, resumed after a restart
            doors.service = NodeProvingService(
                node, admission=admission, max_concurrent=front.api_max_concurrent,
                session_timeout_s=front.api_session_timeout_s,
            )  # fmt: skip
            runner, doors.api_url = await start_api(create_app(doors.service, config), front.host, front.api_port)
            doors._runners.append(runner)
        source: Any = node_status_source(node, running=running)
        if doors.service is not None and not isinstance(doors.service, NodeProvingService):
            svc = doors.service  # sessions outside the journal: add their work (a node's are in its journal)
            source = WithExtraWork(source, lambda: (svc.proving_now(), svc.proofs, svc.cycles_proved))
        await open_status_port(doors, front, source, orchestrator=ServerConfig() if front.orchestrate else None)
    except BaseException:
        with contextlib.suppress(Exception):
            await doors.close()
        raise
    for line in doors.describe():
        log.info("%s", line)
        if announce:
            print(line, flush=True)
    return doors
