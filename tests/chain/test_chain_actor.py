"""The nonce-manager Ray actor: many Ray tasks send through one actor, and EngineClient claims through it."""

from __future__ import annotations

from typing import Any

import ray
from chain_support import TIP, async_w3, engine_as, image_id

from actors.nonce_manager import ActorSender, start_nonce_manager
from zkray.chain.client import EngineClient, RequestStatus
from zkray.chain.devnet import Devnet
from zkray.chain.txmanager import TxCall

TASKS, PER_TASK = 6, 50


def test_300_transactions_from_many_ray_tasks_through_one_actor(ray_session: Any, chain: Devnet) -> None:
    assert chain.roles is not None
    sender, sink = chain.roles.spare[2], chain.roles.spare[3].address
    manager = start_nonce_manager(chain.rpc_url, sender.key)

    @ray.remote(num_cpus=0)
    def send_batch(handle: Any, values: list[int]) -> list[str | None]:
        # All of this task's transactions in flight at once, alongside the other tasks'.
        refs = [handle.send_once.remote(TxCall(to=sink, value=v, gas=21_000)) for v in values]
        return [o.tx_hash for o in ray.get(refs, timeout=120)]

    batches = [list(range(t * PER_TASK + 1, (t + 1) * PER_TASK + 1)) for t in range(TASKS)]
    hashes = [h for batch in ray.get([send_batch.remote(manager, b) for b in batches], timeout=180) for h in batch]
    assert len(set(hashes)) == TASKS * PER_TASK and None not in hashes
    stats = ray.get(manager.stats.remote(), timeout=30)
    assert stats["sent"] == TASKS * PER_TASK and stats["retries"] == 0 and stats["fillers"] == 0
    w3 = chain.web3()
    assert w3.eth.get_transaction_count(sender.address) == w3.eth.get_transaction_count(sender.address, "pending")
    ray.get(manager.close.remote(), timeout=30)
    ray.kill(manager)


async def test_engine_client_claims_through_the_actor_and_never_claims_twice(ray_session: Any, chain: Devnet) -> None:
    assert chain.roles is not None and chain.deployment is not None
    async with engine_as(chain, chain.roles.requesters[0]) as requester:
        request_id, _ = await requester.request_execution(image_id(), b"\7" * 32, "", tip=TIP)
    prover = chain.roles.provers[2]
    manager = start_nonce_manager(chain.rpc_url, prover.key, name=f"nonce-{prover.address}")
    w3 = async_w3(chain)
    try:
        client = EngineClient(w3, chain.deployment.engine, await ActorSender.of(manager))
        assert (await client.claim_execution(request_id)).block_number
        assert (await client.claim_execution(request_id)).already_done  # checked on-chain, not re-sent
        job = await client.get_request(request_id)
        assert job.status is RequestStatus.CLAIMED and job.claimant == prover.address
        # The named actor is the same one for every caller in the cluster.
        same = start_nonce_manager(chain.rpc_url, prover.key, name=f"nonce-{prover.address}")
        assert (await same.stats.remote())["sent"] == 1
    finally:
        await w3.provider.disconnect()
        await manager.close.remote()
        ray.kill(manager)
