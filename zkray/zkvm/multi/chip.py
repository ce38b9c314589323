"""Chips and interactions: the vocabulary of a multi-chip STARK.

A `Chip` is an `Air` (its own columns, height and constraints) plus the `Interaction`s it takes part in:
on a named bus it *sends* tuples of expressions over its main columns with a multiplicity expression
(+m in the LogUp sum) or *receives* them (−m). The verifier accepts only if, summed over every chip and
the public tuples it computes itself, each tuple is sent exactly as often as it is received (SP1's global
cumulative sum). Expressions are plain functions of one row, written with +, − and ·, so the same function
runs over trace rows (aux generation, the debug checker), over the LDE (the quotient) and at the
out-of-domain point (the verifier), and their degree is computed by running them on `Deg` values.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from zkray.zkvm import field as F
from zkray.zkvm.air import Air, Val

Row = Sequence[Val]
"""One trace row as the builder sees it (main columns)."""


class Deg:
    """A stand-in value that tracks the total degree of an expression in trace values."""

    __slots__ = ("d",)

    def __init__(self, d: int) -> None:
        self.d = d

    @staticmethod
    def _of(x: Deg | int) -> int:
        return x.d if isinstance(x, Deg) else 0

    def __add__(self, o: Deg | int) -> Deg:
        return Deg(max(self.d, Deg._of(o)))

    __radd__ = __add__
    __sub__ = __add__
    __rsub__ = __add__

    def __neg__(self) -> Deg:
        return self

    def __mul__(self, o: Deg | int) -> Deg:
        return Deg(self.d + Deg._of(o))

    __rmul__ = __mul__


def _val(x: Val | int) -> Val:
    return x if isinstance(x, Val) else Val.const(int(x))


def _one(_row: Row) -> int:
    return 1


@dataclass(frozen=True)
class Interaction:
    """One tuple per row on `bus`: `values(row)` with multiplicity `multiplicity(row)`, signed by `sign`."""

    bus: str
    values: Callable[[Row], Sequence[Val | int]]
    multiplicity: Callable[[Row], Val | int]
    sign: int  # +1: sends (adds m/(α − fp)); −1: receives

    @classmethod
    def send(cls, bus: str, values: Callable[[Row], Sequence[Val | int]],
             multiplicity: Callable[[Row], Val | int] = _one) -> Interaction:
        return cls(bus, values, multiplicity, 1)

    @classmethod
    def receive(cls, bus: str, values: Callable[[Row], Sequence[Val | int]],
                multiplicity: Callable[[Row], Val | int] = _one) -> Interaction:
        return cls(bus, values, multiplicity, -1)

    def tuple_at(self, row: Row) -> list[Val]:
        return [_val(v) for v in self.values(row)]

    def multiplicity_at(self, row: Row) -> Val:
        return _val(self.multiplicity(row))


@dataclass(frozen=True)
class Chip:
    """An AIR with the interactions its rows take part in.

    `fixed_height`: the height is `air.log_trace_length(public)` (a table whose size the verifier knows);
    otherwise the prover chooses it and the proof states it (an ALU chip sized to its instructions)."""

    air: Air
    interactions: tuple[Interaction, ...] = ()
    fixed_height: bool = False

    def __post_init__(self) -> None:
        if self.air.aux_width or self.air.num_challenges:
            raise ValueError(f"{self.air.name}: a chip's AIR must be main-only; its second phase is its interactions")

    @property
    def name(self) -> str:
        return self.air.name

    @cached_property
    def interaction_degrees(self) -> tuple[tuple[int, int], ...]:
        """(degree of the fingerprint, degree of the multiplicity) of each interaction, in trace values.

        The fingerprint tag + Σ β_i·v_i has the degree of its highest-degree value (β_i are constants)."""
        row = [Deg(1)] * self.air.main_width
        out = []
        for it in self.interactions:
            vals = [Deg._of(v) for v in it.values(row)]  # type: ignore[arg-type]
            out.append((max(vals, default=0), Deg._of(it.multiplicity(row))))  # type: ignore[arg-type]
        return tuple(out)

    @staticmethod
    def batch_degree(degrees: Sequence[tuple[int, int]]) -> int:
        """Degree of a batch's constraint h·Π_i(α − fp_i) = Σ_i ±m_i·Π_(k≠i)(α − fp_k) (lookup.py)."""
        fps = sum(d for d, _ in degrees)
        return max(1 + fps, *(e + fps - d for d, e in degrees))

    @cached_property
    def max_degree(self) -> int:
        """The AIR's degree, raised to what one interaction alone needs (max(1 + deg fp, deg m)), at least 2.

        Batching (below) never raises it: fractions share a column only while their constraint fits."""
        single = [self.batch_degree([d]) for d in self.interaction_degrees]
        return max(self.air.max_degree, 2, *single)

    @cached_property
    def batches(self) -> tuple[tuple[int, ...], ...]:
        """Interactions grouped into LogUp batches (one extension column each), first fit in declaration
        order under `max_degree`: a chip of degree 3 with degree-1 tuples gets one column per pair, as
        Plonky3/SP1 batch theirs. Both sides derive this from the chip definition alone."""
        groups: list[list[int]] = []
        degs = self.interaction_degrees
        for i, d in enumerate(degs):
            for g in groups:
                if self.batch_degree([degs[k] for k in g] + [d]) <= self.max_degree:
                    g.append(i)
                    break
            else:
                groups.append([i])
        return tuple(tuple(g) for g in groups)

    @property
    def aux_width(self) -> int:
        """Extension columns: one per batch of interactions and the running sum (none without interactions)."""
        return len(self.batches) + 1 if self.interactions else 0

    @property
    def quotient_chunks(self) -> int:
        return self.max_degree - 1

    def fingerprint(self) -> bytes:
        """The AIR's fingerprint plus each interaction's bus, direction, arity and expressions at
        pseudo-random points: two chips that differ in any interaction differ here w.h.p."""
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> bytes:
        h = hashlib.sha256(b"zkray-chip-v1" + self.air.fingerprint() + bytes([self.fixed_height]))
        seed = h.digest()
        row = [Val(v, True) for v in _random_ext(seed, self.air.main_width)]
        h.update(struct.pack("<I", len(self.interactions)))
        for it in self.interactions:
            name = it.bus.encode()
            vals = it.tuple_at(row)
            h.update(struct.pack("<I", len(name)) + name + struct.pack("<bI", it.sign, len(vals)))
            for v in [*vals, it.multiplicity_at(row)]:
                h.update(np.asarray(v.to_ext(), dtype="<u4").tobytes())
        return h.digest()


def _random_ext(seed: bytes, count: int) -> np.ndarray:
    words: list[int] = []
    ctr = 0
    while len(words) < 4 * count:
        words += [w % F.P for (w,) in struct.iter_unpack("<I", hashlib.sha256(seed + struct.pack("<I", ctr)).digest())]
        ctr += 1
    return np.array(words[: 4 * count], dtype=np.uint32).reshape(count, 4)


@dataclass(frozen=True)
class PublicTuple:
    """A tuple the verifier puts on a bus itself (e.g. a table it computes from the statement).

    `multiplicity` is signed like a chip's: positive = the verifier sends it, negative = receives it."""

    bus: str
    values: tuple[int, ...]
    multiplicity: int


def bus_id(name: str) -> int:
    """The bus's tag, the first coordinate of every tuple on it (separates buses in the fingerprint)."""
    return int.from_bytes(hashlib.sha256(b"zkray-bus|" + name.encode()).digest()[:8], "little") % F.P


def bus_arities(chips: Sequence[Chip]) -> dict[str, int]:
    """Every bus's tuple length; raises ValueError on inconsistent arities or colliding bus tags."""
    arity: dict[str, int] = {}
    for chip in chips:
        row = [Deg(1)] * chip.air.main_width
        for it in chip.interactions:
            k = len(list(it.values(row)))  # type: ignore[arg-type]
            if arity.setdefault(it.bus, k) != k:
                raise ValueError(f"bus {it.bus!r} carries tuples of {arity[it.bus]} and of {k} values")
    ids = {bus_id(b) for b in arity}
    if len(ids) != len(arity):
        raise ValueError("two bus names hash to the same tag; rename one")
    return arity


def check_public_tuples(tuples: Sequence[PublicTuple], arity: dict[str, int]) -> None:
    for t in tuples:
        if arity.get(t.bus) != len(t.values):
            raise ValueError(f"public tuple on bus {t.bus!r} has {len(t.values)} values; "
                             f"the chips use {arity.get(t.bus, 'no such bus')}")
