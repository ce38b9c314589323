"""The node's stateful parts as Ray actors: the job scheduler, the circuit breakers, the proof cache and
the nonce manager, started by `build_node` and reached through thin handles (`actors.handles`).

Names are stable per data directory and chain (`zkray-scheduler-<tag>`, ...) so an operator finds them
with `ray list actors` and a test with `ray.get_actor`; a node starts its own fresh (a live actor of the
same name, left by a node of this driver that did not close, is killed first), because every piece of
state they hold is rebuilt from disk: the scheduler's queue from the SQLite journal, the proof cache from
its disk tier, the nonce from the chain.

- The **scheduler** is restartable (`scheduler_max_restarts`, default unbounded): Ray runs its
  constructor again after its process dies, which rebuilds the queue from the journal; the handle retries
  the calls the crash interrupted, idempotently (see `SchedulerHandle`).
- The **breakers** restart too, with every breaker closed (a failing service is counted again within one
  window); `record` is sent without waiting, `allow` waits.
- The **proof cache** keeps receipts in the Ray object store, the refs owned by the cache actor (it calls
  `ray.put`), written through to `<data_dir>/proofs`, so proofs survive the node and the actor.
- The **nonce manager** owns the prover account's nonce: it hosts the one `TxManager` of the account and
  the node's `EngineClient` sends claims and submissions through it (`ActorSender`, effect checks run in
  the node). The node process has no TxManager of its own, so the two can never hand out the same nonce.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any

from actors.breakers import ATTESTER, GPU, REMOTE_PROVER, RPC
from actors.factory import kill_named, start_circuit_breakers, start_job_scheduler, start_proof_cache
from actors.handles import BreakersHandle, ProofCacheHandle, SchedulerHandle
from actors.nonce_manager import ActorSender, start_nonce_manager
from zkray.node.settings import NodeSettings
from zkray.policy.degradation import DegradationConfig


@dataclass
class NodeActors:
    """Handles to the node's four actors, and their names."""

    scheduler: SchedulerHandle
    breakers: BreakersHandle
    proof_cache: ProofCacheHandle
    sender: ActorSender
    names: dict[str, str]

    async def close(self) -> None:
        """Stop them for good (the node is closing): nothing of theirs is lost, it is all on disk or chain."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sender.handle.close.remote(), 10)
        for name in self.names.values():
            with contextlib.suppress(Exception):
                kill_named(name)
        for handle in (self.scheduler.caller, self.breakers.caller, self.proof_cache.caller):
            handle.closed = True


def actor_names(settings: NodeSettings, rpc_url: str, engine: str) -> dict[str, str]:
    """One name per actor, stable for one data directory on one chain endpoint and engine."""
    tag = hashlib.sha256(f"{settings.data_dir.resolve()}|{rpc_url}|{engine.lower()}".encode()).hexdigest()[:12]
    return {kind: f"zkray-{kind}-{tag}" for kind in ("scheduler", "breakers", "proof-cache", "nonce")}


async def start_node_actors(settings: NodeSettings, rpc_url: str, engine: str, prover_key: str) -> NodeActors:
    """Start the four actors (Ray initialised, the data directory claimed for this chain)."""
    names = actor_names(settings, rpc_url, engine)
    scheduler = start_job_scheduler(
        settings.journal_path, name=names["scheduler"], max_restarts=settings.scheduler_max_restarts, replace=True,
        capacity=settings.queue_capacity, degradation=DegradationConfig(recovery_s=settings.recovery_s),
    )  # fmt: skip
    breakers = start_circuit_breakers(
        name=names["breakers"], max_restarts=-1, replace=True, failure_threshold=settings.breaker_failures,
        window_s=settings.breaker_window_s, open_s=settings.breaker_open_s,
    )  # fmt: skip
    cache = start_proof_cache(
        settings.data_dir / "proofs", settings.cache.proof_bytes, name=names["proof-cache"], max_restarts=-1,
        replace=True, ttl_s=settings.cache.proof_ttl_s, disk_capacity=settings.cache.proof_disk_bytes,
    )  # fmt: skip
    nonce = start_nonce_manager(rpc_url, prover_key, name=names["nonce"], replace=True, max_restarts=-1)
    breakers_handle = BreakersHandle(breakers)
    await asyncio.to_thread(breakers_handle.register, RPC, ATTESTER)
    sender = await ActorSender.of(nonce)
    return NodeActors(SchedulerHandle(scheduler), breakers_handle, ProofCacheHandle(cache), sender, names)


def declare_backends(breakers: BreakersHandle, pool: Any, *, remote: bool) -> None:
    """Declare the remote prover and the GPU to the breakers when the pool starts with them: the health loop
    reads an undeclared service as absent and would switch its backend off before its first task."""
    runnable = set(pool.stats().get("runnable", ()))
    services = [REMOTE_PROVER] if remote else []
    services += [GPU] if "gpu" in runnable else []
    if services:
        breakers.register(*services)


def actor_of(handle: Any) -> Any:
    """The Ray actor handle behind one of the node's handles (tests kill it through this)."""
    return handle.caller.actor
