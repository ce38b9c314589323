"""The nonce manager's I/O half against a real anvil: hundreds of concurrent senders, interval mining,
a nonce lost before broadcast, and a stuck transaction replaced with higher fees."""

from __future__ import annotations

import asyncio

import pytest
from chain_support import async_w3

from zkray.chain.devnet import Devnet
from zkray.chain.errors import TransactionError, TxDropped
from zkray.chain.txmanager import TxCall, TxManager

N = 300


async def _wait_for(predicate: object, timeout_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def _send_concurrently(chain: Devnet, n: int, **options: object) -> None:
    assert chain.roles is not None
    sender, sink = chain.roles.spare[0], chain.roles.spare[1].address
    w3 = async_w3(chain)
    try:
        start_nonce = await w3.eth.get_transaction_count(sender.address)  # type: ignore[arg-type]
        async with TxManager(w3, sender.key, **options) as tx:  # type: ignore[arg-type]
            outcomes = await asyncio.gather(*(tx.send(TxCall(to=sink, value=i + 1, gas=21_000)) for i in range(n)))
            assert tx.stats["retries"] == 0 and tx.stats["fillers"] == 0  # zero nonce errors
        assert len({o.tx_hash for o in outcomes}) == n and all(o.block_number for o in outcomes)
        assert await w3.eth.get_transaction_count(sender.address) == start_nonce + n  # type: ignore[arg-type]
        assert await w3.eth.get_transaction_count(sender.address, "pending") == start_nonce + n  # type: ignore[arg-type]
    finally:
        await w3.provider.disconnect()


async def test_300_concurrent_transactions_all_mine_with_automine(chain: Devnet) -> None:
    await _send_concurrently(chain, N)


async def test_300_concurrent_transactions_all_mine_with_interval_mining(chain: Devnet) -> None:
    chain.set_interval_mining(1)
    await _send_concurrently(chain, N)


@pytest.mark.parametrize("interval", [0, 1])
async def test_a_nonce_dropped_before_broadcast_is_filled_and_nothing_stays_stuck(chain: Devnet, interval: int) -> None:
    assert chain.roles is not None
    chain.set_interval_mining(interval)
    sender, sink = chain.roles.spare[0], chain.roles.spare[1].address
    w3 = async_w3(chain)
    try:
        async with TxManager(w3, sender.key, lease_s=0.5) as tx:
            lost = tx.reserve()  # a sender that crashed between reserving and broadcasting
            outcomes = await asyncio.wait_for(
                asyncio.gather(*(tx.send(TxCall(to=sink, value=1, gas=21_000)) for _ in range(20))), 60
            )
            assert len(outcomes) == 20 and tx.stats["fillers"] == 1
            with pytest.raises(TxDropped):
                await tx.wait(lost)
            assert len(tx.book) == 0
            mined = await w3.eth.get_transaction_count(sender.address)  # type: ignore[arg-type]
            assert mined == await w3.eth.get_transaction_count(sender.address, "pending")  # type: ignore[arg-type]
    finally:
        await w3.provider.disconnect()


async def test_a_stuck_transaction_is_replaced_with_higher_fees(chain: Devnet) -> None:
    assert chain.roles is not None
    sender, sink = chain.roles.spare[0], chain.roles.spare[1].address
    chain.rpc("evm_setAutomine", False)  # nothing mines until we say so
    w3 = async_w3(chain)
    try:
        async with TxManager(w3, sender.key, stuck_after_s=0.3) as tx:
            first_fees = await tx.fees.suggest()
            task = asyncio.create_task(tx.send(TxCall(to=sink, value=5, gas=21_000)))
            await _wait_for(lambda: tx.stats["replacements"] >= 1)
            chain.mine()
            outcome = await asyncio.wait_for(task, 20)
            mined = await w3.eth.get_transaction(outcome.tx_hash)  # type: ignore[arg-type]
            assert mined["maxFeePerGas"] > first_fees.max_fee
            assert tx.stats["retries"] == 0
    finally:
        await w3.provider.disconnect()


async def test_a_rejected_broadcast_gives_the_nonce_back(chain: Devnet) -> None:
    """A transaction the node refuses (here: more value than the balance) does not leave a gap."""
    assert chain.roles is not None
    sender, sink = chain.roles.spare[0], chain.roles.spare[1].address
    w3 = async_w3(chain)
    try:
        async with TxManager(w3, sender.key) as tx:
            with pytest.raises(TransactionError, match=r"rejected"):
                await tx.send(TxCall(to=sink, value=10**30, gas=21_000))
            outcome = await asyncio.wait_for(tx.send(TxCall(to=sink, value=1, gas=21_000)), 20)
            assert outcome.block_number and tx.stats["fillers"] == 0
    finally:
        await w3.provider.disconnect()


async def test_another_wallet_using_the_account_is_absorbed(chain: Devnet) -> None:
    """Transactions sent from the same account outside the manager: the next send re-syncs and lands."""
    assert chain.roles is not None
    sender, sink = chain.roles.spare[0], chain.roles.spare[1].address
    w3 = async_w3(chain)
    try:
        async with TxManager(w3, sender.key) as tx:
            await tx.send(TxCall(to=sink, value=1, gas=21_000))
            for _ in range(3):  # anvil signs for its unlocked accounts: a second wallet
                chain.rpc("eth_sendTransaction", {"from": sender.address, "to": sink, "value": "0x1"})
            outcome = await asyncio.wait_for(tx.send(TxCall(to=sink, value=2, gas=21_000)), 20)
            assert outcome.block_number and tx.stats["retries"] == 1
            mined = await w3.eth.get_transaction(outcome.tx_hash)  # type: ignore[arg-type]
            assert mined["nonce"] == 4
    finally:
        await w3.provider.disconnect()
