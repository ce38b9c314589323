"""Fee suggestions from fee history, and gas estimation's fallback when the node cannot estimate."""

from __future__ import annotations

from chain_proxy import TcpProxy
from web3 import AsyncHTTPProvider, AsyncWeb3

from zkray.chain.devnet import Devnet
from zkray.chain.fees import MIN_PRIORITY_FEE, FeeOracle, fees_from_history
from zkray.chain.nonces import Fees
from zkray.chain.txmanager import TxCall, TxManager


def test_fees_are_twice_the_next_base_fee_plus_the_median_tip() -> None:
    fees = fees_from_history([100, 120, 150], [[3_000_000], [5_000_000], [4_000_000]])
    assert fees == Fees(max_fee=2 * 150 + 4_000_000, priority_fee=4_000_000)


def test_empty_blocks_still_get_a_minimum_tip() -> None:
    assert fees_from_history([7], [[0], [0]]) == Fees(2 * 7 + MIN_PRIORITY_FEE, MIN_PRIORITY_FEE)


async def test_oracle_reads_the_devnet_fee_history(chain: Devnet) -> None:
    w3 = AsyncWeb3(AsyncHTTPProvider(chain.rpc_url))
    try:
        fees = await FeeOracle(w3).suggest()
        base = (await w3.eth.get_block("latest"))["baseFeePerGas"]
        assert fees.priority_fee >= MIN_PRIORITY_FEE and fees.max_fee >= base + fees.priority_fee
    finally:
        await w3.provider.disconnect()


async def test_gas_estimation_falls_back_when_the_node_cannot_answer(chain: Devnet) -> None:
    assert chain.roles is not None
    proxy = await TcpProxy(int(chain.rpc_url.rsplit(":", 1)[1])).start()
    w3 = AsyncWeb3(AsyncHTTPProvider(f"http://127.0.0.1:{proxy.port}", request_kwargs={"timeout": 5}))
    try:
        tx = TxManager(w3, chain.roles.spare[0].key)
        call = TxCall(to=chain.roles.spare[1].address, value=1, fallback_gas=77_000)
        assert 21_000 <= await tx.estimate_gas(call) < 77_000  # answered: estimate with headroom
        proxy.refusing = True
        proxy.cut()
        assert await tx.estimate_gas(call) == 77_000
    finally:
        await w3.provider.disconnect()
        await proxy.close()
