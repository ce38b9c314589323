"""The node *process* dies (exit 137, nothing flushed or closed) right after storing a proof and before
submitting it; the next start submits that proof exactly once and proves nothing again."""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from web3 import AsyncHTTPProvider, AsyncWeb3

from zkray.chain.client import EngineClient, RequestStatus
from zkray.chain.devnet import Devnet
from zkray.chain.txmanager import TxManager
from zkray.node.inputs import data_uri
from zkray.node.pipeline import job_id_of
from zkray.policy.jobs import JobStatus
from zkray.proving import guests
from zkray.serve import DRILL_KILL_ENV, build_parser, serve, settings_from_args
from zkray.store import JobJournal


def argv_for(net: Devnet, tmp_path: Path) -> list[str]:
    (tmp_path / "prover.key").write_text(net.roles.provers[0].key)
    argv = ["--rpc-url", net.rpc_url, "--engine", net.deployment.engine, "--key-file", str(tmp_path / "prover.key"),
            "--data-dir", str(tmp_path / "d"), "--no-progress"]  # fmt: skip
    for i, attester in enumerate(net.roles.attesters):
        (tmp_path / f"a{i}.key").write_text(attester.key)
        argv += ["--attester-key-file", str(tmp_path / f"a{i}.key")]
    return argv


async def post(net: Devnet, n: int) -> int:
    data = struct.pack("<I", n)
    w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(net.rpc_url))
    async with TxManager(w3, net.roles.requesters[0].key) as tx:
        client = EngineClient(w3, net.deployment.engine, sender=tx)
        rid, _ = await client.request_execution(
            guests()["fib"], hashlib.sha256(data).digest(), data_uri(data), tip=10**16, input_type=1
        )
    await w3.provider.disconnect()
    return rid


def test_process_killed_between_proving_and_submitting_restart_submits_once(
    ray_session: object, tmp_path: Path
) -> None:
    with Devnet() as net:
        rid = asyncio.run(post(net, 13))
        argv = argv_for(net, tmp_path)
        env = {**os.environ, DRILL_KILL_ENV: "1"}
        killed = subprocess.run(
            [sys.executable, "-m", "zkray.serve", *argv, "--timeout", "150"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert killed.returncode == 137, killed.stderr[-3000:]
        assert JobJournal(tmp_path / "d" / "node.sqlite").get(job_id_of(rid)).status is JobStatus.PROVED

        async def restart() -> tuple[Any, list[Any], int]:
            w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(net.rpc_url))
            client = EngineClient(w3, net.deployment.engine)
            assert (await client.get_request(rid)).status is RequestStatus.CLAIMED  # claimed, not submitted
            stop = asyncio.Event()
            settings = settings_from_args(build_parser().parse_args(argv), env={})
            serving = asyncio.create_task(serve(settings, install_signals=False, timeout_s=120, cancel=stop))
            for _ in range(1200):
                if (await client.get_request(rid)).status is RequestStatus.COMPLETED or serving.done():
                    break
                await asyncio.sleep(0.1)
            stop.set()
            code = await serving
            logs = await client.contract.events.ExecutionCompleted.get_logs(
                argument_filters={"requestId": rid}, from_block=0
            )
            state = await client.get_request(rid)
            await w3.provider.disconnect()
            return state, list(logs), code

        state, logs, code = asyncio.run(restart())
    assert code == 0 and state.status is RequestStatus.COMPLETED
    assert len(logs) == 1 and logs[0]["args"]["prover"] == net.roles.provers[0].address
    journal = JobJournal(tmp_path / "d" / "node.sqlite")
    assert sum(e.to_status is JobStatus.PROVING for e in journal.events(job_id_of(rid))) == 1  # proved once
    job = journal.get(job_id_of(rid))
    assert job.status is JobStatus.COMPLETED and int(job.payload["payout_wei"]) == int(logs[0]["args"]["payout"])
