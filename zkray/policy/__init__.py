"""Pure decisions of the prover node: no Ray, no I/O, no clock reads (time comes in as `now`).

Actors and adapters wrap these; tests drive them with invented clocks.
"""

from zkray.policy.breaker import BreakerState, CircuitBreaker
from zkray.policy.errors import (
    CompressionError,
    HashRingEmpty,
    InvalidTransition,
    PolicyError,
    QueueFull,
)

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "CompressionError",
    "HashRingEmpty",
    "InvalidTransition",
    "PolicyError",
    "QueueFull",
]
