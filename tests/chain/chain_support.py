"""Helpers shared by the chain tests: clients bound to devnet accounts, real receipts and attestations."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.logs import DISCARD

from zkray import Receipt, guests, prove
from zkray.attest import Attester, encode_seal
from zkray.chain.client import EngineClient
from zkray.chain.devnet import DevAccount, Devnet
from zkray.chain.txmanager import TxManager

TIP = 10**16  # 0.01 ETH


def async_w3(devnet: Devnet) -> AsyncWeb3[Any]:
    return AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url, request_kwargs={"timeout": 30}))


@contextlib.asynccontextmanager
async def engine_as(devnet: Devnet, account: DevAccount, **options: Any) -> AsyncIterator[EngineClient]:
    """An EngineClient sending from `account` through its own TxManager."""
    w3 = async_w3(devnet)
    assert devnet.deployment is not None
    try:
        async with TxManager(w3, account.key, **options) as tx:
            yield EngineClient(w3, devnet.deployment.engine, tx)
    finally:
        await w3.provider.disconnect()


@cache
def fib_receipt(n: int = 10) -> Receipt:
    """A real STARK receipt of the built-in Fibonacci guest (cached: proving takes a moment)."""
    return prove("fib", {"n": n})


def image_id(name: str = "fib") -> bytes:
    return guests()[name]


def attest(devnet: Devnet, receipt: Receipt, signers: list[DevAccount] | None = None) -> bytes:
    """A seal signed by `signers` (default: the devnet's threshold of attesters) after verifying."""
    assert devnet.deployment is not None and devnet.roles is not None
    chosen = signers if signers is not None else devnet.roles.attesters[: devnet.deployment.attester_threshold]
    attestations = [
        Attester(a.key).attest(receipt, chain_id=devnet.deployment.chain_id, verifier=devnet.deployment.verifier)
        for a in chosen
    ]
    return encode_seal(attestations)


async def latest_timestamp(w3: AsyncWeb3[Any]) -> int:
    block = await w3.eth.get_block("latest")
    return int(block["timestamp"])


async def balance(w3: AsyncWeb3[Any], address: str) -> int:
    return int(await w3.eth.get_balance(address))  # type: ignore[arg-type]


def events_named(client: EngineClient, outcome_logs: list[Any], name: str) -> list[dict[str, Any]]:
    return [
        dict(e["args"]) for e in client.contract.events[name]().process_receipt({"logs": outcome_logs}, errors=DISCARD)
    ]


async def call_as(devnet: Devnet, account: DevAccount, contract: str, address: str, fn: str, *args: Any) -> Any:
    """Send one contract call from `account` through a TxManager (admin calls without a typed client)."""
    from zkray.chain.artifacts import abi
    from zkray.chain.txmanager import TxCall

    w3 = async_w3(devnet)
    try:
        c = w3.eth.contract(address=w3.to_checksum_address(address), abi=abi(contract))
        data = bytes.fromhex(c.encode_abi(fn, list(args))[2:])
        async with TxManager(w3, account.key) as tx:
            return await tx.send(TxCall(to=c.address, data=data))
    finally:
        await w3.provider.disconnect()


def deploy(devnet: Devnet, name: str, *args: Any) -> str:
    """Deploy a test-helper contract from the owner (anvil signs for its unlocked accounts)."""
    from zkray.chain.devnet import _deploy

    assert devnet.roles is not None
    return _deploy(devnet.web3(), devnet.roles.owner.address, name, *args)
