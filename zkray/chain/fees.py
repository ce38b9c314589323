"""EIP-1559 fee suggestions from `eth_feeHistory`, cached briefly so hundreds of concurrent senders cost
one RPC call per refresh rather than one each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from statistics import median
from typing import Any

import aiohttp
from web3 import AsyncWeb3
from web3.exceptions import Web3Exception

from zkray.chain.errors import RpcError
from zkray.chain.nonces import Fees

HISTORY_BLOCKS = 10
REWARD_PERCENTILE = 50
MIN_PRIORITY_FEE = 1_000_000  # 0.001 gwei: some nodes drop zero-tip transactions from the pool
# The base fee can rise 12.5 % per full block; 2x covers six full blocks in a row.
BASE_FEE_MULTIPLIER = 2


def fees_from_history(base_fees: Sequence[int], rewards: Sequence[Sequence[int]]) -> Fees:
    """Fees from a fee history: the median recent tip, and twice the next block's base fee plus that tip."""
    tips = [r[0] for r in rewards if r and r[0] > 0]
    priority = max(int(median(tips)) if tips else 0, MIN_PRIORITY_FEE)
    next_base = base_fees[-1] if base_fees else 0
    return Fees(max_fee=BASE_FEE_MULTIPLIER * next_base + priority, priority_fee=priority)


class FeeOracle:
    """Suggests fees for the next block; falls back to `eth_gasPrice` where fee history is unsupported."""

    def __init__(self, w3: AsyncWeb3[Any], *, ttl_s: float = 1.0) -> None:
        self._w3 = w3
        self._ttl_s = ttl_s
        self._cached: tuple[float, Fees] | None = None
        self._lock = asyncio.Lock()

    async def suggest(self) -> Fees:
        async with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self._ttl_s:
                return self._cached[1]
            fees = await self._fetch()
            self._cached = (now, fees)
            return fees

    def invalidate(self) -> None:
        self._cached = None

    async def _fetch(self) -> Fees:
        try:
            history = await self._w3.eth.fee_history(HISTORY_BLOCKS, "latest", [REWARD_PERCENTILE])
            return fees_from_history(history["baseFeePerGas"], history.get("reward") or [])
        except (Web3Exception, ValueError, NotImplementedError, KeyError):
            pass
        except (OSError, TimeoutError, aiohttp.ClientError) as exc:
            raise RpcError(f"fee history unavailable: {exc}") from exc
        try:
            price = await self._w3.eth.gas_price
        except (Web3Exception, OSError, TimeoutError, aiohttp.ClientError) as exc:
            raise RpcError(f"neither eth_feeHistory nor eth_gasPrice answered: {exc}") from exc
        return Fees(max_fee=price, priority_fee=min(price, MIN_PRIORITY_FEE))
