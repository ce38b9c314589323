"""The local proving API that notebooks and scripts call: `prove`, `verify`, `guests`.

`prove` takes a built-in guest's name ("fib": a hand-written AIR) or an RV32IM ELF guest (its bytes or a
path), which is proven in segments and composed into one receipt (zkray/zkvm/continuation/).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zkray.zkvm import proof as proof_codec
from zkray.zkvm.elf import Program
from zkray.zkvm.errors import InputError
from zkray.zkvm.guests import BUILTIN_GUESTS, by_name
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams
from zkray.zkvm.prover import ProverStats
from zkray.zkvm.prover import prove as stark_prove
from zkray.zkvm.receipt import Receipt

Guest = str | bytes | bytearray | os.PathLike[str] | Program
"""A built-in guest's name, an ELF's bytes, a path to an ELF file, or a loaded `Program`."""


def guests() -> dict[str, bytes]:
    """Built-in guest name -> image id."""
    return {name: g.image_id for name, g in BUILTIN_GUESTS.items()}


def _elf(guest: Guest) -> bytes | Program | None:
    """The ELF (bytes or Program) `guest` names, or None for a built-in guest's name."""
    if isinstance(guest, str) and guest in BUILTIN_GUESTS:
        return None
    if isinstance(guest, Program):
        return guest
    if isinstance(guest, bytes | bytearray | memoryview):
        return bytes(guest)
    if isinstance(guest, str | os.PathLike):
        path = Path(guest)
        if not path.is_file():
            names = ", ".join(sorted(BUILTIN_GUESTS))
            raise InputError(f"unknown guest {str(guest)!r}: neither a built-in guest ({names}) nor an ELF file")
        return path.read_bytes()
    raise InputError(f"a guest is a built-in name, ELF bytes or a path to an ELF, not {type(guest).__name__}")


def _input_bytes(input: Mapping[str, Any] | bytes | str) -> bytes:
    if isinstance(input, bytes | bytearray | memoryview):
        return bytes(input)
    raise InputError(f"an ELF guest's input is bytes (what it reads with the read ECALL), not {type(input).__name__}")


def prove(guest: Guest, input: Mapping[str, Any] | bytes | str = b"", *, params: StarkParams = DEFAULT_PARAMS,
          stats: ProverStats | None = None, segment_cycles: int | None = None) -> Receipt:
    """Run `guest` on `input` and return a receipt that anyone can `verify()`.

    A built-in guest (`zkray.guests()`) takes the input it documents (JSON or a mapping); an ELF guest
    takes bytes and is proven in segments of `segment_cycles` cycles (a power of two; default
    `DEFAULT_SEGMENT_CYCLES`), so its receipt verifies with `verify(receipt, program=elf)`.
    `stats` collects the built-in prover's timings.
    """
    elf = _elf(guest)
    if elf is None:
        g = by_name(str(guest))
        trace, public, journal = g.witness(g.parse_input(input))
        proof = stark_prove(g.air, trace, public, params, stats=stats)
        return Receipt(g.image_id, journal, proof_codec.encode(proof))
    from zkray.zkvm.continuation import DEFAULT_SEGMENT_CYCLES, prove_elf

    cycles = DEFAULT_SEGMENT_CYCLES if segment_cycles is None else segment_cycles
    return prove_elf(elf, _input_bytes(input), segment_cycles=cycles, params=params)


def verify(receipt: Receipt | bytes, image_id: bytes | None = None, *, program: Guest | None = None,
           exit_code: int | None = 0, input: bytes | None = None) -> Receipt:
    """Verify a receipt (object or encoded bytes); returns it, raises ReceiptError/VerificationError.

    An ELF guest's receipt needs `program` (the ELF's bytes or path) and checks `exit_code` (None: any)
    and, given `input`, that the guest consumed a prefix of it; see `Receipt.verify`.
    """
    r = receipt if isinstance(receipt, Receipt) else Receipt.decode(receipt)
    elf = None if program is None else _elf(program)
    r.verify(image_id, program=elf, exit_code=exit_code, input=input)
    return r
