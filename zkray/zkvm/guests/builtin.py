"""The `fib` and `fib_input_initial` guests: input parsing, witness, journal, image id."""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from zkray.zkvm.errors import InputError, VerificationError
from zkray.zkvm.guests.fib_air import MAX_N, FibAir, generate_trace, term

U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class FibInput:
    n: int
    a: int
    b: int


@dataclass(frozen=True)
class BuiltinGuest:
    """A Fibonacci guest. `fixed_start` pins (a, b) = (1, 1) for `fib`; `fib_input_initial` reads them.

    Input bytes (what an on-chain job's input URL serves): little-endian u32s — n for `fib`,
    n, a, b for `fib_input_initial`. JSON objects {"n": …} / {"n": …, "a": …, "b": …} are accepted too.
    Journal: the same u32s followed by the output t_n (so the verifier knows what was computed from what).
    """

    name: str
    fixed_start: tuple[int, int] | None
    version: int = 1

    @cached_property
    def air(self) -> FibAir:
        return FibAir(self.name, self.version)

    @cached_property
    def image_id(self) -> bytes:
        name = self.name.encode()
        return hashlib.sha256(
            b"zkray-guest-v1" + struct.pack("<I", len(name)) + name + struct.pack("<I", self.version)
            + self.air.fingerprint()
        ).digest()

    @property
    def input_fields(self) -> tuple[str, ...]:
        return ("n",) if self.fixed_start else ("n", "a", "b")

    def parse_input(self, data: Mapping[str, Any] | bytes | str) -> FibInput:
        """Accept a mapping, a JSON object string, or the canonical u32 bytes; raise InputError otherwise."""
        fields = self.input_fields
        if isinstance(data, bytes | bytearray):
            if len(data) != 4 * len(fields):
                raise InputError(f"{self.name} expects {4 * len(fields)} input bytes "
                                 f"(little-endian u32 {', '.join(fields)}), got {len(data)}")
            values = dict(zip(fields, struct.unpack(f"<{len(fields)}I", data), strict=True))
        else:
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except json.JSONDecodeError as e:
                    raise InputError(f"{self.name} input is not valid JSON: {e}") from e
            if not isinstance(data, Mapping):
                raise InputError(f"{self.name} input must be an object with fields {fields}")
            aliases = {"init_a": "a", "init_b": "b"}
            values = {aliases.get(k, k): v for k, v in data.items()}
            unknown = set(values) - set(fields)
            missing = set(fields) - set(values)
            if unknown or missing:
                raise InputError(f"{self.name} input needs exactly {list(fields)}; "
                                 f"missing {sorted(missing)}, unexpected {sorted(unknown)}")
        for k, v in values.items():
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= U32:
                raise InputError(f"{self.name} input '{k}' must be an integer in [0, 2^32), got {v!r}")
        if values["n"] > MAX_N:
            raise InputError(f"{self.name} supports n up to {MAX_N}, got {values['n']}")
        a, b = self.fixed_start or (values["a"], values["b"])
        return FibInput(values["n"], a, b)

    def input_bytes(self, inp: FibInput) -> bytes:
        vals = (inp.n,) if self.fixed_start else (inp.n, inp.a, inp.b)
        return struct.pack(f"<{len(vals)}I", *vals)

    def output(self, inp: FibInput) -> int:
        return term(inp.n, inp.a, inp.b)

    def journal(self, inp: FibInput, out: int) -> bytes:
        return self.input_bytes(inp) + struct.pack("<I", out)

    def public(self, inp: FibInput, out: int) -> tuple[int, ...]:
        return (inp.n, inp.a & 0xFFFF, inp.a >> 16, inp.b & 0xFFFF, inp.b >> 16, out & 0xFFFF, out >> 16)

    def witness(self, inp: FibInput) -> tuple[np.ndarray, tuple[int, ...], bytes]:
        """(trace, public inputs, journal) for an input."""
        out = self.output(inp)
        public = self.public(inp, out)
        trace = generate_trace(inp.n, inp.a, inp.b, self.air.log_trace_length(public))
        return trace, public, self.journal(inp, out)

    def public_from_journal(self, journal: bytes) -> tuple[int, ...]:
        """The verifier's view: decode the journal strictly into public inputs."""
        k = len(self.input_fields) + 1
        if len(journal) != 4 * k:
            raise VerificationError(f"{self.name} journal must be {4 * k} bytes, got {len(journal)}")
        vals = struct.unpack(f"<{k}I", journal)
        if vals[0] > MAX_N:
            raise VerificationError(f"{self.name} journal claims n = {vals[0]} > {MAX_N}")
        if self.fixed_start:
            inp = FibInput(vals[0], *self.fixed_start)
        else:
            inp = FibInput(*vals[:3])
        return self.public(inp, vals[-1])


BUILTIN_GUESTS: dict[str, BuiltinGuest] = {
    g.name: g for g in (BuiltinGuest("fib", fixed_start=(1, 1)), BuiltinGuest("fib_input_initial", None))
}


def by_name(name: str) -> BuiltinGuest:
    try:
        return BUILTIN_GUESTS[name]
    except KeyError:
        raise InputError(f"unknown guest '{name}'; built-in guests: {sorted(BUILTIN_GUESTS)}") from None


def by_image_id(image_id: bytes) -> BuiltinGuest | None:
    for g in BUILTIN_GUESTS.values():
        if g.image_id == image_id:
            return g
    return None
