"""`zkray serve` reaches the front doors: flags and environment land in `settings.front`, and
`--orchestrator URL` runs the node in pull mode (no chain) until the orchestrator has nothing left."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
from pathlib import Path

import pytest
from frontdoor_support import ALICE, FIB, api_config, fib_input, get, node_settings, until

from zkray.api import BonsaiClient, LocalProvingService, create_app, start
from zkray.node.frontdoors import REMOTE_KEY_ENV, FrontDoorSettings, json_logs
from zkray.orchestrator import OrchestratorServer
from zkray.orchestrator.taskbook import TaskStatus
from zkray.policy.jobs import JobStatus
from zkray.proving import guests
from zkray.serve import build_parser, serve, settings_from_args
from zkray.store import JobJournal


def test_flags_and_environment_reach_the_front_door_settings(tmp_path: Path) -> None:
    keys = tmp_path / "api.json"
    args = build_parser().parse_args([
        "--status-port", "9464", "--api-port", "0", "--api-keys-file", str(keys), "--host", "0.0.0.0",
        "--orchestrate", "--orchestrator", "http://o:1", "--remote-prover", "http://r:2",
    ])  # fmt: skip
    front = settings_from_args(args, env={}).front
    assert front == FrontDoorSettings(
        status_port=9464, api_port=0, api_config_file=keys, host="0.0.0.0", orchestrate=True,
        orchestrator_url="http://o:1", remote_url="http://r:2",
    )  # fmt: skip
    plain = settings_from_args(build_parser().parse_args([]), env={"ZKRAY_FRONT__API_PORT": "8080"}).front
    assert plain.api_port == 8080 and plain.status_port is None and not plain.orchestrate


def test_serve_with_an_orchestrator_runs_a_pull_worker_on_ray(ray_session: object, tmp_path: Path) -> None:
    async def go() -> tuple[int, OrchestratorServer, list[str]]:
        server = OrchestratorServer()
        ids = [server.add_task("fast-fib", fib_input(9 + i)) for i in range(3)]
        url = await server.start("127.0.0.1", 0)
        worker = {"backoff_initial_s": 0.05, "backoff_max_s": 0.2, "max_404s": 2, "key_env": "ZKRAY_TEST_NO_KEY",
                  "key_file": str(tmp_path / "node.key"), "seed": 5}  # fmt: skip
        settings = node_settings(tmp_path, front={"orchestrator_url": url, "status_port": 0, "worker": worker})
        try:
            code = await serve(settings, timeout_s=240, install_signals=False)
        finally:
            await server.stop()
        return code, server, ids

    code, server, ids = asyncio.run(go())
    assert code == 0
    assert all(server.book.get(t).status is TaskStatus.DONE for t in ids)
    assert (tmp_path / "node.key").stat().st_mode & 0o077 == 0  # the worker's key was created private


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_embedded_serve_opens_its_doors_and_offloads_to_a_remote_cluster(
    ray_session: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`zkray serve --status-port P --api-port Q --api-keys-file F --remote-prover URL` on the embedded default:
    the demo jobs are proved by the remote cluster (a second API server here) and paid; meanwhile the
    dashboard's status and a Bonsai session are served by this node."""
    keys = tmp_path / "api.json"
    keys.write_text(json.dumps({"keys": [{"name": "alice", "key": ALICE}]}))
    monkeypatch.setenv(REMOTE_KEY_ENV, ALICE)
    status_port, api_port = _free_port(), _free_port()

    async def go() -> tuple[int, dict[str, object], LocalProvingService]:
        remote_service = LocalProvingService(max_concurrent=2)
        remote_runner, remote_url = await start(create_app(remote_service, api_config()))
        args = build_parser().parse_args([
            "--data-dir", str(tmp_path / "data"), "--no-progress", "--jobs", "2", "--interval", "0.05",
            "--status-port", str(status_port), "--api-port", str(api_port), "--api-keys-file", str(keys),
            "--remote-prover", remote_url,
        ])  # fmt: skip
        cancel = asyncio.Event()
        node = asyncio.create_task(serve(settings_from_args(args, env={}), timeout_s=240, install_signals=False,
                                         cancel=cancel))  # fmt: skip
        status_url, api_url = f"http://127.0.0.1:{status_port}", f"http://127.0.0.1:{api_port}"
        try:

            async def completed() -> dict[str, object] | None:
                try:
                    code, text = await get(status_url + "/api/status")
                except OSError:
                    return None  # not listening yet
                snap = json.loads(text) if code == 200 else {}
                return snap if snap.get("jobs", {}).get("completed", 0) >= 2 else None

            snap = await until(completed, timeout_s=180, every_s=0.5)
            async with BonsaiClient(api_url, ALICE) as client:
                receipt = await client.prove(FIB, fib_input(21), timeout=120)
            receipt.verify(FIB)
        finally:
            cancel.set()
            code = await asyncio.wait_for(node, 120)
            await remote_service.close()
            await remote_runner.cleanup()
        return code, snap or {}, remote_service

    code, snap, remote = asyncio.run(go())
    assert code == 0 and snap["running"] and int(str(snap["proofs"])) >= 2
    # the built-in demo jobs and the API session (the node's pool tries the remote first) were proved remotely;
    # the demo's ELF jobs (1 in 4) are proved on the node's own pool, segment by segment
    with JobJournal(tmp_path / "data" / "node.sqlite") as journal:
        ids = {"0x" + i.hex() for i in guests().values()}
        builtin = [j for j in journal.jobs([JobStatus.COMPLETED]) if j.source == "engine" and j.image_id in ids]
    remote_sessions = list(remote._sessions.values())
    assert builtin and len(remote_sessions) >= len(builtin) + 1
    assert all(s.status.value == "SUCCEEDED" for s in remote_sessions)


def test_json_logs_scrub_every_key_the_node_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prover_key = "0x" + "ab" * 32
    (tmp_path / "prover.key").write_text(prover_key + "\n")
    keys = tmp_path / "api.json"
    keys.write_text(json.dumps({"keys": [{"name": "alice", "key": ALICE}]}))
    monkeypatch.setenv(REMOTE_KEY_ENV, "remote-secret-0123456789")
    args = build_parser().parse_args([
        "--json-logs", "--key-file", str(tmp_path / "prover.key"), "--api-port", "0", "--api-keys-file", str(keys),
    ])  # fmt: skip
    assert args.json_logs
    stream = io.StringIO()
    formatter = json_logs(settings_from_args(args, env={}), stream=stream)
    try:
        logging.getLogger("zkray.test").warning("keys %s %s %s", prover_key, ALICE, "remote-secret-0123456789")
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if h.get_name() == "zkray-json"]:
            root.removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert formatter is not None and line["logger"] == "zkray.test" and line["level"] == "warning"
    assert prover_key[2:] not in line["msg"] and ALICE not in line["msg"] and "remote-secret" not in line["msg"]
