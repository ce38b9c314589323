"""The node's own parts: settings precedence, inline inputs, preflight, and an RV32IM ELF job on-chain
whose guest fails in preflight (the real executor): skipped with its reason, never claimed or proved."""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from wiring_support import run_until, settled, start

from zkray import execute, guests
from zkray.chain.client import EngineClient
from zkray.chain.devnet import Devnet
from zkray.chain.txmanager import TxManager
from zkray.fetch import InputDigestMismatch, InputFetcher
from zkray.node.config import MAX_SEGMENT_CYCLES
from zkray.node.inputs import JobUnprovable, data_uri, decode_data_uri, fetch_input, preflight, program_elf
from zkray.node.pipeline import job_id_of
from zkray.node.programs import DEFAULT_SEGMENT_CYCLES, LoadedProgram, preflight_elf
from zkray.node.settings import load_settings
from zkray.policy.jobs import JobStatus
from zkray.store import JobJournal

GUEST = Path(__file__).resolve().parents[2] / "guest"


def test_settings_file_then_environment_then_flags(tmp_path: Path) -> None:
    file = tmp_path / "node.toml"
    file.write_text('rpc_url = "http://file"\nqueue_capacity = 10\n[proving]\nmax_concurrent = 3\n')
    env = {"ZKRAY_QUEUE_CAPACITY": "20", "ZKRAY_PROVING__TASK_TIMEOUT_S": "5", "ZKRAY_PROVER_KEY": "secret"}
    s = load_settings(file, env, {"queue_capacity": 30, "engine": "0xabc", "ws_url": None})
    assert (s.rpc_url, s.queue_capacity, s.engine, s.ws_url) == ("http://file", 30, "0xabc", None)
    assert (s.proving.max_concurrent, s.proving.task_timeout_s) == (3, 5.0)
    assert not s.embedded
    assert load_settings(None, {}, {}).embedded  # nothing configured: the embedded default
    (tmp_path / "n.json").write_text(json.dumps({"demo": {"jobs": 4}}))
    assert load_settings(tmp_path / "n.json", {}, {}).demo.jobs == 4
    with pytest.raises(ValueError):
        load_settings(None, {"ZKRAY_QUEUE_CAPACITY": "0"}, {})


def test_segment_size_is_a_proving_setting_checked_against_the_verifier() -> None:
    assert load_settings(None, {}, {}).proving.segment_cycles == DEFAULT_SEGMENT_CYCLES  # the prover's choice
    assert DEFAULT_SEGMENT_CYCLES <= MAX_SEGMENT_CYCLES
    env = {"ZKRAY_PROVING__SEGMENT_CYCLES": "1024"}
    assert load_settings(None, env, {}).proving.segment_cycles == 1024
    flags = {"proving": {"segment_cycles": 2048}}  # flags win over the environment, as for every setting
    assert load_settings(None, env, flags).proving.segment_cycles == 2048
    with pytest.raises(ValueError, match="power of two"):
        load_settings(None, {"ZKRAY_PROVING__SEGMENT_CYCLES": "1000"}, {})
    with pytest.raises(ValueError, match="the verifier accepts"):
        load_settings(None, {"ZKRAY_PROVING__SEGMENT_CYCLES": str(MAX_SEGMENT_CYCLES * 2)}, {})


def test_inline_inputs_are_checked_against_the_digest() -> None:
    data = struct.pack("<I", 21)
    assert decode_data_uri(data_uri(data)) == data
    assert decode_data_uri("data:,%01%02") == b"\x01\x02"

    async def go() -> None:
        async with InputFetcher() as fetcher:
            ok = await fetch_input(fetcher, data_uri(data), hashlib.sha256(data).hexdigest())
            assert ok == data
            with pytest.raises(InputDigestMismatch):
                await fetch_input(fetcher, data_uri(data + b"x"), hashlib.sha256(data).hexdigest())

    asyncio.run(go())


def test_preflight_prices_builtins_and_resolves_elf_guests_by_image_id() -> None:
    async def go() -> None:
        fib = await preflight("0x" + guests()["fib"].hex(), struct.pack("<I", 40))
        assert (fib.kind, fib.program, fib.cycles) == ("builtin", "fib", 40)
        with pytest.raises(JobUnprovable, match="not valid for guest fib"):
            await preflight("0x" + guests()["fib"].hex(), b"\x01")
        elf = (GUEST / "sort.elf").read_bytes()
        image = "0x" + execute(elf, b"").image_id.hex()
        async with InputFetcher() as fetcher:
            assert await program_elf(fetcher, image, "zkray://guest/sort") == elf
            with pytest.raises(JobUnprovable, match="image id"):
                await program_elf(fetcher, image, "zkray://guest/fib")
        with pytest.raises(JobUnprovable, match="not a built-in guest"):  # ELF guests: programs.preflight_elf
            await preflight(image, struct.pack("<3I", 3, 1, 2))
        program = LoadedProgram(image, elf, handle=None, source="test")
        planned = await preflight_elf(program, struct.pack("<3I", 3, 1, 2), 1 << 10)
        assert planned.kind == "elf" and planned.cycles > 0 and planned.segments >= 1
        with pytest.raises(JobUnprovable, match="exits with code"):  # 5 bytes: not a list of u32, bad input
            await preflight_elf(program, b"\x01" * 5, 1 << 10)

    asyncio.run(go())


@pytest.fixture(scope="module")
def elf_devnet() -> Iterator[Devnet]:
    """A devnet that also registers the sort ELF guest (elf_url zkray://guest/sort)."""
    sort_id = execute((GUEST / "sort.elf").read_bytes(), b"").image_id
    with Devnet(guests={**guests(), "sort": sort_id}) as net:
        yield net


def test_elf_job_whose_guest_fails_preflight_is_skipped_not_claimed(
    elf_devnet: Devnet, ray_session: object, tmp_path: Path
) -> None:
    """ELF jobs are proved and paid (tests/node/test_elf_node.py); one whose guest exits with an error on
    its input can never have a receipt, so preflight skips it with the exit code: no claim, no proof."""

    async def go() -> None:
        from web3 import AsyncHTTPProvider, AsyncWeb3

        net = elf_devnet
        data = b"\x09\x04\x07\x00\x01"  # 5 bytes: sort wants a list of u32 and exits ZK_EXIT_BAD_INPUT
        w3 = AsyncWeb3(AsyncHTTPProvider(net.rpc_url))
        async with TxManager(w3, net.roles.requesters[0].key) as tx:
            client = EngineClient(w3, net.deployment.engine, sender=tx)
            image = bytes.fromhex(net.deployment.guests["sort"][2:])
            rid, _ = await client.request_execution(
                image, hashlib.sha256(data).digest(), data_uri(data), tip=10**16, input_type=1
            )
            node = await run_until(await start(net, tmp_path), lambda n: settled(n, [rid]), timeout_s=60)
            state = await client.get_request(rid)
        await w3.provider.disconnect()
        job = JobJournal(tmp_path / "node.sqlite").get(job_id_of(rid))
        assert job.status is JobStatus.SKIPPED and "exits with code" in (job.error or ""), job.error
        assert state.claimant is None and node.prover.proofs == 0  # never claimed, never proved

    asyncio.run(go())


def test_unprofitable_job_at_current_gas_is_skipped_never_claimed(
    elf_devnet: Devnet, ray_session: object, tmp_path: Path
) -> None:
    async def go() -> None:
        from wiring_support import post_job

        rid = await post_job(elf_devnet, 10, tip=10**14)  # the engine's minimum tip
        # Gas assumed for claim + submit so large that no tip covers it at any gas price above zero.
        built = await start(elf_devnet, tmp_path, claim_gas=10**12)
        node = await run_until(built, lambda n: settled(n, [rid]), timeout_s=60)
        job = JobJournal(tmp_path / "node.sqlite").get(job_id_of(rid))
        assert job.status is JobStatus.SKIPPED and (job.error or "").startswith("unprofitable"), job.error
        assert node.offers.get("unprofitable", 0) >= 1 and node.prover.proofs == 0

    asyncio.run(go())


def test_rpc_calls_are_paced_and_a_429_pauses_every_caller(elf_devnet: Devnet) -> None:
    async def go() -> None:
        from aiohttp import web
        from web3 import AsyncHTTPProvider, AsyncWeb3

        from actors.breakers import CircuitBreakers
        from zkray.chain.client import EngineClient
        from zkray.chain.errors import RpcError
        from zkray.node.chain_access import ChainAccess
        from zkray.policy.ratelimit import TokenBucket

        # Paced: a bucket of 2 that refills once in ~17 minutes lets two calls through, then holds the third.
        w3 = AsyncWeb3(AsyncHTTPProvider(elf_devnet.rpc_url))
        bucket = TokenBucket(rate=0.001, burst=2, now=time.monotonic())
        chain = ChainAccess(w3, EngineClient(w3, elf_devnet.deployment.engine), CircuitBreakers(), bucket)
        assert await chain.heartbeat() >= 0 and await chain.heartbeat() >= 0
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(chain.heartbeat(), 0.5)
        await w3.provider.disconnect()

        # A node that answers 429: the bucket is paused for everyone sharing it.
        async def too_many(_: web.Request) -> web.Response:
            return web.Response(status=429, text="Too Many Requests")

        app = web.Application()
        app.router.add_post("/", too_many)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        w3 = AsyncWeb3(AsyncHTTPProvider(f"http://127.0.0.1:{port}"))
        bucket = TokenBucket(rate=1000, burst=100, now=time.monotonic())
        chain = ChainAccess(w3, EngineClient(w3, elf_devnet.deployment.engine), CircuitBreakers(), bucket)
        with pytest.raises(RpcError):
            await chain.heartbeat()
        assert not bucket.try_acquire(time.monotonic())  # paused, though it holds tokens
        await w3.provider.disconnect()
        await runner.cleanup()

    asyncio.run(go())
