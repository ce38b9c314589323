"""Building a node from settings and a chain target: the one place the parts are constructed.

The scheduler, breakers, proof cache and nonce manager are Ray actors (`zkray.node.node_actors`), reached
through thin handles with the plain classes' methods; the prove tasks run on Ray through the proving pool.
Claims and submissions go through the nonce-manager actor, the one owner of the prover account's nonce.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import AsyncHTTPProvider, AsyncWeb3

from actors.factory import start_program_cache
from actors.nonce_manager import ActorSender
from zkray.attest import Attester
from zkray.chain.client import EngineClient, RegistryClient
from zkray.fetch import InputFetcher
from zkray.node.affinity import AffinityRuntime
from zkray.node.capacity import gpu_task_memory_gib, load_capacity
from zkray.node.chain_access import ChainAccess
from zkray.node.node_actors import NodeActors, declare_backends, start_node_actors
from zkray.node.pipeline import Node
from zkray.node.programs import NodePrograms
from zkray.node.prover import ProverService
from zkray.node.proving import ProvingPool, RemoteProver
from zkray.node.proving.runtime import RayRuntime
from zkray.node.settings import NodeSettings
from zkray.node.sources import EventSource, PendingSweep
from zkray.node.stages import Drills, JobRunner
from zkray.node.submitter import AttestationService, Submitter
from zkray.policy.ratelimit import TokenBucket
from zkray.policy.retry import RetryPolicy
from zkray.proving import guests
from zkray.store import JobJournal


@dataclass(frozen=True)
class ChainTarget:
    """Where the node earns: RPC endpoints, the engine, the prover's key and the attester keys it holds."""

    rpc_url: str
    engine: str
    prover_key: str
    attester_keys: tuple[str, ...]
    ws_url: str | None = None
    verifier: str | None = None  # None: read from the registry entry of a built-in guest


@dataclass
class Built:
    """The node and what must be closed after it stops."""

    node: Node
    tx: ActorSender
    fetcher: InputFetcher
    actors: NodeActors
    w3: AsyncWeb3[Any]

    async def close(self) -> None:
        await self.w3.provider.disconnect()
        await self.fetcher.close()
        await self.actors.close()
        self.node.journal.close()


async def build_node(
    settings: NodeSettings,
    target: ChainTarget,
    *,
    drills: Drills | None = None,
    remote: RemoteProver | None = None,
    runtime: Any = None,
    fresh_on_mismatch: bool = False,
) -> Built:
    """Construct every part (Ray must already be initialised); nothing runs until `node.run`.
    `fresh_on_mismatch`: a journal kept for another chain is moved aside (the embedded devnet is new on
    every run) instead of refused."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    w3 = AsyncWeb3(AsyncHTTPProvider(target.rpc_url, request_kwargs={"timeout": 10}))
    read_only = EngineClient(w3, target.engine)
    limiter = TokenBucket(settings.rpc_rate_per_s, settings.rpc_burst, now=time.monotonic())
    chain_id = await w3.eth.chain_id
    genesis = await w3.eth.get_block(0)
    identity = f"{chain_id}:{read_only.address}:0x{bytes(genesis['hash']).hex()}"
    claim_data_dir(settings.data_dir, identity, fresh_on_mismatch=fresh_on_mismatch)
    actors = await start_node_actors(settings, target.rpc_url, target.engine, target.prover_key)
    scheduler, breakers, tx = actors.scheduler, actors.breakers, actors.sender
    engine = EngineClient(w3, target.engine, sender=tx)
    chain = ChainAccess(w3, engine, breakers, limiter)
    verifier = target.verifier or await _verifier(w3, engine)
    journal = JobJournal(settings.journal_path)
    fetcher = InputFetcher(settings.fetch, breakers=breakers, clock=time.time)
    # programs stay warm on the node that proved them before: a soft, per-image node preference
    capacity = load_capacity(settings.calibration, gpu_memory_gib=settings.gpu_memory_gib)  # `zkray calibrate`
    gpu_gib = gpu_task_memory_gib(capacity, settings.gpu_memory_gib)  # a GPU task never lands on a smaller GPU
    runtime = runtime or AffinityRuntime(RayRuntime(), gpu_memory_gib=gpu_gib)
    pool = ProvingPool(runtime, settings.proving, breakers=breakers, remote=remote)
    declare_backends(breakers, pool, remote=remote is not None)
    cache = actors.proof_cache
    prover = ProverService(pool, cache, settings.initial_speed_hz, capacity and capacity.watching(runtime.nodes))
    # RV32IM guests' ELFs by image id, warm in the program cache actor; attesters verify with them
    program_cache = start_program_cache(
        settings.cache.program_bytes, settings.data_dir / "programs", disk_capacity=settings.cache.program_disk_bytes
    )
    programs = NodePrograms(program_cache, chain, fetcher, on_cached=scheduler.set_cached)
    attesters = [Attester(k, programs=programs.held) for k in target.attester_keys]
    policy = RetryPolicy(
        max_attempts=settings.submit_attempts, initial_delay_s=settings.submit_initial_s,
        max_delay_s=max(settings.submit_max_s, settings.submit_initial_s),
    )  # fmt: skip
    submitter = Submitter(chain, AttestationService(attesters, chain_id, verifier, breakers), policy)
    timeout = settings.proving.task_timeout_s
    runner = JobRunner(
        scheduler, journal, chain, fetcher, prover, submitter, task_timeout_s=timeout, programs=programs,
        drills=drills, segment_cycles=settings.proving.segment_cycles,
    )  # fmt: skip
    node = Node(
        settings, scheduler=scheduler, journal=journal, breakers=breakers, chain=chain, prover=prover, runner=runner
    )
    ws = None if settings.poll_events else target.ws_url
    events = EventSource(target.rpc_url, target.engine, journal, node, ws_url=ws, poll_s=0.25, start_block=0)
    node.attach(events, PendingSweep(chain, node, settings.reconcile_s))
    return Built(node, tx, fetcher, actors, w3)


IDENTITY_KEY = "chain-identity"


def claim_data_dir(data_dir: Path, identity: str, *, fresh_on_mismatch: bool) -> None:
    """One journal belongs to one chain and engine: request ids and event cursors mean nothing elsewhere.
    A journal of another chain is refused (ChainMismatch), or moved to `previous/<time>/` when asked."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "node.sqlite"
    if path.exists():
        with JobJournal(path) as journal:
            recorded = journal.get_cursor(IDENTITY_KEY)
        if recorded is not None and recorded != identity:
            if not fresh_on_mismatch:
                raise ChainMismatch(
                    f"{data_dir} holds the journal of chain {recorded}, not {identity}: use another --data-dir"
                )
            aside = data_dir / "previous" / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}"
            aside.mkdir(parents=True, exist_ok=True)
            for item in data_dir.glob("node.sqlite*"):  # the proof cache stays: a proof is chain-independent
                shutil.move(str(item), aside / item.name)
    with JobJournal(path) as journal:
        journal.set_cursor(IDENTITY_KEY, identity)


class ChainMismatch(RuntimeError):
    """The data directory belongs to another chain or engine; point the node at its own directory."""


async def _verifier(w3: AsyncWeb3[Any], engine: EngineClient) -> str:
    """The AttestationVerifier the built-in guests are registered with."""
    registry = RegistryClient(w3, await engine.registry())
    for image_id in guests().values():
        program = await registry.get_program(image_id)
        if program["verifier"]:
            return str(program["verifier"])
    raise RuntimeError("no built-in guest is registered with the engine's registry; pass the verifier address")
