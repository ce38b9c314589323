"""The on-chain adapter: contracts and their artifacts, the local devnet, the engine client, the event
stream and the nonce bookkeeping. Policy (what to claim, when to retry) lives elsewhere; this package
only talks to the chain, safely.

The names below are the public surface; they load on first use, so `import zkray.chain.nonces` (pure
logic) does not pay for web3's client stack.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Devnet": "zkray.chain.devnet",
    "Deployment": "zkray.chain.devnet",
    "EngineClient": "zkray.chain.client",
    "RegistryClient": "zkray.chain.client",
    "ExecutionRequest": "zkray.chain.client",
    "RequestStatus": "zkray.chain.client",
    "ProverStats": "zkray.chain.client",
    "EventStream": "zkray.chain.events",
    "EngineEvent": "zkray.chain.events",
    "Cursor": "zkray.chain.events",
    "TxManager": "zkray.chain.txmanager",
    "TxCall": "zkray.chain.txmanager",
    "TxOutcome": "zkray.chain.txmanager",
    "NonceBook": "zkray.chain.nonces",
    "Fees": "zkray.chain.nonces",
    "FeeOracle": "zkray.chain.fees",
    "ChainError": "zkray.chain.errors",
    "ContractError": "zkray.chain.errors",
    "TransactionError": "zkray.chain.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zkray.chain' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
