"""The AIR interface: a column layout plus ONE constraint function, reused everywhere.

`Air.eval(builder)` is called by the prover (over the whole LDE domain, each value an array), by the
verifier (at the out-of-domain point, each value one extension element), by the debug checker (over the
trace rows, naming the failing row and constraint) and by the image-id fingerprint. The builder gives it
the current and next row of the main trace, the extension-field auxiliary columns (committed after the
verifier's challenges: the second phase that lookups and memory arguments need), the challenges and the
public inputs; it declares constraints with `assert_zero` (every row), `assert_transition` (every row
but the last, relating a row to the next) and `assert_row` (one row: boundary constraints).
"""

from __future__ import annotations

import hashlib
import struct
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from zkray.zkvm import ext as E
from zkray.zkvm import field as F


class Val:
    """A base- or extension-field value, scalar or array, with field arithmetic operators.

    Base values hold shape (...,) uint32; extension values shape (..., 4). Mixed arithmetic lifts to the
    extension. Only the operations constraints need (+, -, *, unary -) exist.
    """

    __slots__ = ("is_ext", "v")

    def __init__(self, v: np.ndarray, is_ext: bool) -> None:
        self.v = v
        self.is_ext = is_ext

    @staticmethod
    def const(c: int) -> Val:
        return Val(np.uint32(c % F.P), False)

    @staticmethod
    def _coerce(x: Val | int) -> Val:
        return x if isinstance(x, Val) else Val.const(int(x))

    def to_ext(self) -> np.ndarray:
        return self.v if self.is_ext else E.from_base(self.v)

    def __add__(self, other: Val | int) -> Val:
        o = Val._coerce(other)
        if not self.is_ext and not o.is_ext:
            return Val(F.add(self.v, o.v), False)
        if self.is_ext and o.is_ext:
            return Val(F.add(self.v, o.v), True)
        e, b = (self, o) if self.is_ext else (o, self)
        out = np.array(np.broadcast_to(e.v, np.broadcast_shapes(e.v.shape, (*np.shape(b.v), 4))))
        out[..., 0] = F.add(out[..., 0], b.v)
        return Val(out, True)

    __radd__ = __add__

    def __neg__(self) -> Val:
        return Val(F.neg(np.asarray(self.v, dtype=np.uint32)), self.is_ext)

    def __sub__(self, other: Val | int) -> Val:
        return self + (-Val._coerce(other))

    def __rsub__(self, other: Val | int) -> Val:
        return Val._coerce(other) + (-self)

    def __mul__(self, other: Val | int) -> Val:
        o = Val._coerce(other)
        if not self.is_ext and not o.is_ext:
            return Val(F.mul(self.v, o.v), False)
        if self.is_ext and o.is_ext:
            return Val(E.mul(self.v, o.v), True)
        e, b = (self, o) if self.is_ext else (o, self)
        return Val(E.mul_base(e.v, b.v), True)

    __rmul__ = __mul__


class ConstraintBuilder(ABC):
    """What `Air.eval` sees. Implementations differ only in what the values are and what is done with
    each asserted expression."""

    main: Sequence[Val]
    main_next: Sequence[Val]
    aux: Sequence[Val]
    aux_next: Sequence[Val]
    challenges: Sequence[Val]
    public: Sequence[int]
    n: int  # trace length

    @abstractmethod
    def assert_zero(self, name: str, expr: Val) -> None:
        """expr = 0 on every row."""

    @abstractmethod
    def assert_transition(self, name: str, expr: Val) -> None:
        """expr = 0 on every row but the last (it may read the next row)."""

    @abstractmethod
    def assert_row(self, name: str, expr: Val, row: int) -> None:
        """expr = 0 on one row (boundary constraint); rows may be negative (-1 = last).

        Its degree must be below `Air.max_degree`: divided by a linear zerofier, a degree-d boundary
        expression gives a quotient of degree d·n − 1, which must fit in the (max_degree − 1) chunks."""


class Air(ABC):
    """An algebraic intermediate representation: layout, constraints, auxiliary-trace generation."""

    name: str
    version: int = 1
    main_width: int
    aux_width: int = 0  # extension-field columns, committed after the challenges are drawn
    num_challenges: int = 0
    max_degree: int = 2  # highest total degree of any constraint, in trace values

    @abstractmethod
    def eval(self, b: ConstraintBuilder) -> None:
        """Declare every constraint. Pure: called many times, over different value domains."""

    @abstractmethod
    def log_trace_length(self, public: Sequence[int]) -> int:
        """The trace length is fixed by the public inputs, so a verifier knows it without trusting the prover."""

    def generate_aux(self, main: np.ndarray, challenges: list[np.ndarray]) -> np.ndarray:
        """The (aux_width, n, 4) auxiliary trace from the main trace and the challenges."""
        raise ValueError(f"{self.name} declares no auxiliary columns")

    def sample_public(self) -> tuple[int, ...]:
        """A valid public input, used only to fingerprint the constraints."""
        return ()

    def fingerprint(self) -> bytes:
        """Digest of the AIR's definition: name, version, layout, and its constraint polynomials
        evaluated at pseudo-random points (two AIRs that differ in any constraint differ here w.h.p.)."""
        h = hashlib.sha256()
        name = self.name.encode()
        h.update(b"zkray-air-v1" + struct.pack("<I", len(name)) + name)
        h.update(struct.pack("<6I", self.version, self.main_width, self.aux_width, self.num_challenges,
                             self.max_degree, self.log_trace_length(self.sample_public())))
        builder = PointBuilder.random(self, self.sample_public(), seed=h.digest())
        self.eval(builder)
        h.update(builder.digest())
        return h.digest()


def _rng_ext(seed: bytes, label: bytes, count: int) -> np.ndarray:
    out = []
    ctr = 0
    while len(out) < 4 * count:
        block = hashlib.sha256(seed + label + struct.pack("<I", ctr)).digest()
        ctr += 1
        out.extend(w % F.P for (w,) in struct.iter_unpack("<I", block))
    return np.array(out[: 4 * count], dtype=np.uint32).reshape(count, 4)


@dataclass
class PointBuilder(ConstraintBuilder):
    """Evaluates every constraint at one extension point and records each value, in order.

    The verifier uses the values at the out-of-domain point z; `fingerprint` uses pseudo-random ones.
    """

    main: Sequence[Val]
    main_next: Sequence[Val]
    aux: Sequence[Val]
    aux_next: Sequence[Val]
    challenges: Sequence[Val]
    public: Sequence[int]
    n: int
    values: list[tuple[str, int, np.ndarray]] = field(default_factory=list)  # (kind, row, value)

    @classmethod
    def random(cls, air: Air, public: Sequence[int], seed: bytes) -> PointBuilder:
        def vals(label: bytes, count: int) -> list[Val]:
            return [Val(v, True) for v in _rng_ext(seed, label, count)]

        return cls(
            main=vals(b"main", air.main_width), main_next=vals(b"next", air.main_width),
            aux=vals(b"aux", air.aux_width), aux_next=vals(b"auxn", air.aux_width),
            challenges=vals(b"ch", air.num_challenges), public=public,
            n=1 << air.log_trace_length(public),
        )

    def assert_zero(self, name: str, expr: Val) -> None:
        self.values.append(("all", 0, Val._coerce(expr).to_ext()))

    def assert_transition(self, name: str, expr: Val) -> None:
        self.values.append(("transition", 0, Val._coerce(expr).to_ext()))

    def assert_row(self, name: str, expr: Val, row: int) -> None:
        self.values.append(("row", row % self.n, Val._coerce(expr).to_ext()))

    def digest(self) -> bytes:
        h = hashlib.sha256()
        for kind, row, value in self.values:
            h.update(kind.encode() + struct.pack("<I", row) + np.asarray(value, dtype="<u4").tobytes())
        return h.digest()


@dataclass
class Violation:
    constraint: str
    row: int


class DebugBuilder(ConstraintBuilder):
    """Evaluates the constraints over the trace rows and collects every violation (row, constraint)."""

    def __init__(self, air: Air, main: np.ndarray, aux: np.ndarray | None, challenges: list[np.ndarray],
                 public: Sequence[int]) -> None:
        self.n = main.shape[1]
        self.main = [Val(c, False) for c in main]
        self.main_next = [Val(np.roll(c, -1), False) for c in main]
        aux_cols = aux if aux is not None else np.zeros((0, self.n, 4), dtype=np.uint32)
        self.aux = [Val(c, True) for c in aux_cols]
        self.aux_next = [Val(np.roll(c, -1, axis=0), True) for c in aux_cols]
        self.challenges = [Val(c, True) for c in challenges]
        self.public = public
        self.violations: list[Violation] = []

    def _bad_rows(self, expr: Val) -> np.ndarray:
        v = np.broadcast_to(np.asarray(Val._coerce(expr).v), (self.n, 4) if expr.is_ext else (self.n,))
        bad = v != 0
        return np.nonzero(bad.any(axis=-1) if expr.is_ext else bad)[0]

    def assert_zero(self, name: str, expr: Val) -> None:
        self.violations += [Violation(name, int(r)) for r in self._bad_rows(expr)]

    def assert_transition(self, name: str, expr: Val) -> None:
        self.violations += [Violation(name, int(r)) for r in self._bad_rows(expr) if r != self.n - 1]

    def assert_row(self, name: str, expr: Val, row: int) -> None:
        row %= self.n
        if row in set(self._bad_rows(expr).tolist()):
            self.violations.append(Violation(name, row))
