"""The local proving API that notebooks and scripts call: `prove`, `verify`, `guests`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zkray.zkvm import proof as proof_codec
from zkray.zkvm.guests import BUILTIN_GUESTS, by_name
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams
from zkray.zkvm.prover import ProverStats
from zkray.zkvm.prover import prove as stark_prove
from zkray.zkvm.receipt import Receipt


def guests() -> dict[str, bytes]:
    """Built-in guest name -> image id."""
    return {name: g.image_id for name, g in BUILTIN_GUESTS.items()}


def prove(guest: str, input: Mapping[str, Any] | bytes | str, *, params: StarkParams = DEFAULT_PARAMS,
          stats: ProverStats | None = None) -> Receipt:
    """Run `guest` on `input` and return a receipt that anyone can `verify()`."""
    g = by_name(guest)
    trace, public, journal = g.witness(g.parse_input(input))
    proof = stark_prove(g.air, trace, public, params, stats=stats)
    return Receipt(g.image_id, journal, proof_codec.encode(proof))


def verify(receipt: Receipt | bytes, image_id: bytes | None = None) -> Receipt:
    """Verify a receipt (object or encoded bytes); returns it, raises ReceiptError/VerificationError."""
    r = receipt if isinstance(receipt, Receipt) else Receipt.decode(receipt)
    r.verify(image_id)
    return r
