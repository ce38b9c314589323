"""`zkray serve --rpc-url … --engine … --key-file …` against a chain it did not start: keys from files,
the job already posted before the node came up is found by the pending sweep and paid."""

from __future__ import annotations

import asyncio
import hashlib
import struct
from pathlib import Path
from typing import Any

from web3 import AsyncHTTPProvider, AsyncWeb3

from zkray.chain.client import EngineClient, RequestStatus
from zkray.chain.devnet import Devnet
from zkray.chain.txmanager import TxManager
from zkray.node.inputs import data_uri
from zkray.proving import guests
from zkray.serve import build_parser, serve, settings_from_args


def test_serve_against_an_external_chain_with_key_files(ray_session: object, tmp_path: Path) -> None:
    async def go(net: Devnet) -> tuple[int, Any]:
        data = struct.pack("<I", 15)
        w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(net.rpc_url))
        async with TxManager(w3, net.roles.requesters[1].key) as tx:
            client = EngineClient(w3, net.deployment.engine, sender=tx)
            rid, _ = await client.request_execution(
                guests()["fib"], hashlib.sha256(data).digest(), data_uri(data), tip=10**16, input_type=1
            )
            prover_key = tmp_path / "prover.key"
            prover_key.write_text(net.roles.provers[2].key + "\n")
            argv = ["--rpc-url", net.rpc_url, "--engine", net.deployment.engine, "--key-file", str(prover_key),
                    "--data-dir", str(tmp_path / "d"), "--no-progress"]  # fmt: skip
            for i, attester in enumerate(net.roles.attesters):
                path = tmp_path / f"attester{i}.key"
                path.write_text(attester.key)
                argv += ["--attester-key-file", str(path)]
            settings = settings_from_args(build_parser().parse_args(argv), env={})
            assert not settings.embedded and settings.ws_url is None  # polls: no WebSocket URL given
            stop = asyncio.Event()
            serving = asyncio.create_task(serve(settings, install_signals=False, timeout_s=90, cancel=stop))
            for _ in range(900):
                if (await client.get_request(rid)).status is RequestStatus.COMPLETED or serving.done():
                    break
                await asyncio.sleep(0.1)
            stop.set()  # as Ctrl-C: drains, then returns
            code = await serving
            state = await client.get_request(rid)
        await w3.provider.disconnect()
        return code, state

    with Devnet() as net:
        code, state = asyncio.run(go(net))
        assert code == 0
        assert state.status is RequestStatus.COMPLETED and state.claimant == net.roles.provers[2].address
