"""Multi-chip STARK completeness: chips of different heights tied by interactions prove and verify.

The small chips defined here (squares looked up in a table, 16-bit words range-checked through a byte
table) are reused by the soundness and seal tests.
"""

import numpy as np
import pytest

from zkray.zkvm import field as F
from zkray.zkvm.air import Air, ConstraintBuilder
from zkray.zkvm.backend import CompiledBackend, ReferenceBackend
from zkray.zkvm.errors import ProofError, VerificationError
from zkray.zkvm.multi import (
    Chip,
    Interaction,
    PublicTuple,
    decode,
    encode,
    prove_multi,
    verify_multi,
    verify_multi_seal,
)
from zkray.zkvm.params import DEFAULT_PARAMS


class SquareSenderAir(Air):
    """Columns x, y with y = x·x; every row sends (x, y) on the "square" bus."""

    name = "test-square-sender"
    main_width = 2
    max_degree = 2

    def log_trace_length(self, public):
        return 4

    def eval(self, b: ConstraintBuilder) -> None:
        b.assert_zero("y = x·x", b.main[1] - b.main[0] * b.main[0])


class SquareTableAir(Air):
    """Column x = 0, 1, …, n−1 and a multiplicity; receives (x, x·x) (a degree-2 tuple: chip degree 3)."""

    name = "test-square-table"
    main_width = 2
    max_degree = 2

    def log_trace_length(self, public):
        return 6

    def eval(self, b: ConstraintBuilder) -> None:
        x, x_next = b.main[0], b.main_next[0]
        b.assert_row("x starts at 0", x, 0)
        b.assert_transition("x steps by 1", x_next - x - 1)


SENDER = Chip(SquareSenderAir(), (Interaction.send("square", lambda r: [r[0], r[1]]),))
TABLE = Chip(SquareTableAir(), (Interaction.receive("square", lambda r: [r[0], r[0] * r[0]], lambda r: r[1]),),
             fixed_height=True)


def square_traces(xs, table_rows=64):
    xs = np.asarray(xs, dtype=np.int64)
    sender = np.stack([xs, xs * xs]).astype(np.int64) % F.P
    table_x = np.arange(table_rows)
    mult = np.bincount(xs[(xs >= 0) & (xs < table_rows)], minlength=table_rows)[:table_rows]
    table = np.stack([table_x, mult]) % F.P
    return [sender.astype(np.uint32), table.astype(np.uint32)]


class ByteTableAir(Air):
    """Column v = 0..255 (starts at 0, steps by 1) and a multiplicity: receives (v) on the "byte" bus."""

    name = "test-byte-table"
    main_width = 2
    max_degree = 2

    def log_trace_length(self, public):
        return 8

    def eval(self, b: ConstraintBuilder) -> None:
        b.assert_row("v starts at 0", b.main[0], 0)
        b.assert_transition("v steps by 1", b.main_next[0] - b.main[0] - 1)


class LimbsAir(Air):
    """Columns lo, hi, w with w = lo + 256·hi; sends lo and hi to the byte table (w is then < 2^16)."""

    main_width = 3
    max_degree = 2

    def __init__(self, name, log_n):
        self.name = name
        self._log_n = log_n

    def log_trace_length(self, public):
        return self._log_n

    def eval(self, b: ConstraintBuilder) -> None:
        b.assert_zero("w = lo + 256·hi", b.main[2] - b.main[0] - 256 * b.main[1])


BYTES = Chip(ByteTableAir(), (Interaction.receive("byte", lambda r: [r[0]], lambda r: r[1]),), fixed_height=True)


def limbs_chip(name, log_n):
    return Chip(LimbsAir(name, log_n), (Interaction.send("byte", lambda r: [r[0]]),
                                        Interaction.send("byte", lambda r: [r[1]])))


def limbs_trace(words):
    w = np.asarray(words, dtype=np.int64)
    return (np.stack([w & 0xFF, w >> 8, w]) % F.P).astype(np.uint32)


def byte_table_trace(*limb_traces):
    limbs = np.concatenate([t[:2].ravel() for t in limb_traces]).astype(np.int64)
    mult = np.bincount(limbs[limbs < 256], minlength=256)[:256]
    return (np.stack([np.arange(256), mult]) % F.P).astype(np.uint32)


class CounterAir(Air):
    """A chip with no interactions: x starts at 0 and steps by 1 (its group commits no aux trace)."""

    name = "test-counter"
    main_width = 1
    max_degree = 2

    def log_trace_length(self, public):
        return 3

    def eval(self, b: ConstraintBuilder) -> None:
        b.assert_row("x starts at 0", b.main[0], 0)
        b.assert_transition("x steps by 1", b.main_next[0] - b.main[0] - 1)


COUNTER = Chip(CounterAir())
SQUARES = [SENDER, TABLE]


def random_xs(seed, count=16, high=63):
    return np.random.default_rng(seed).integers(0, high, count)


def roundtrip(chips, proof, public=(), **kw):
    """Encode, decode (canonically), verify the seal: what every completeness test checks."""
    seal = encode(proof)
    assert encode(decode(seal, chips, DEFAULT_PARAMS)) == seal
    verify_multi_seal(chips, seal, public, DEFAULT_PARAMS, **kw)
    return seal


@pytest.mark.parametrize("seed", [1, 2])
def test_two_chips_of_different_heights_prove_and_verify(seed):
    traces = square_traces(random_xs(seed))
    proof = prove_multi(SQUARES, traces)
    assert proof.log_ns == [4, 6] and len(proof.groups) == 2
    assert proof.cumulative_sums[0].any()  # each chip's share is non-zero; only their sum vanishes
    roundtrip(SQUARES, proof)


@pytest.mark.parametrize(("log_a", "log_b"), [(4, 5), (4, 4), (1, 3)])
def test_byte_table_receives_from_two_senders(log_a, log_b):
    rng = np.random.default_rng(log_a + log_b)
    a, b = limbs_chip("test-limbs-a", log_a), limbs_chip("test-limbs-b", log_b)
    ta, tb = limbs_trace(rng.integers(0, 1 << 16, 1 << log_a)), limbs_trace(rng.integers(0, 1 << 16, 1 << log_b))
    chips = [a, BYTES, b]
    proof = prove_multi(chips, [ta, byte_table_trace(ta, tb), tb])
    assert len(proof.groups) == len({log_a, log_b, 8})
    roundtrip(chips, proof)


def test_a_chip_without_interactions_rides_along():
    chips = [*SQUARES, COUNTER]
    traces = [*square_traces(random_xs(3)), np.arange(8, dtype=np.uint32)[None]]
    proof = prove_multi(chips, traces)
    assert proof.cumulative_sums[2] is None and proof.groups[-1].aux_root is None
    roundtrip(chips, proof)


def test_public_tuples_computed_by_the_verifier_join_the_sum():
    xs = random_xs(4)
    traces = square_traces(xs)
    traces[1][1, 7] += 2  # the table also serves (7, 49) twice, sent by the statement itself
    public = [PublicTuple("square", (7, 49), 2)]
    proof = prove_multi(SQUARES, traces, public_tuples=public)
    roundtrip(SQUARES, proof, public_tuples=public)
    with pytest.raises(VerificationError, match="do not add up"):
        verify_multi(SQUARES, proof)  # without the statement's tuples the sums do not balance
    forged = [PublicTuple("square", (7, 50), 2)]
    with pytest.raises(VerificationError):
        verify_multi(SQUARES, proof, public_tuples=forged)
    with pytest.raises(ProofError, match="do not balance"):
        prove_multi(SQUARES, traces, public_tuples=forged)


def test_compiled_and_reference_backends_give_identical_proofs():
    traces = square_traces(random_xs(5))
    fast = encode(prove_multi(SQUARES, traces, backend=CompiledBackend()))
    slow = encode(prove_multi(SQUARES, traces, backend=ReferenceBackend()))
    assert fast == slow
    verify_multi_seal(SQUARES, slow, (), DEFAULT_PARAMS)


def test_chip_degree_follows_its_interactions():
    assert SENDER.max_degree == 2 and SENDER.quotient_chunks == 1
    assert TABLE.max_degree == 3 and TABLE.quotient_chunks == 2  # receives (x, x·x): inverse constraint degree 3


def test_verifier_side_never_imports_a_prover():
    import ast
    from pathlib import Path

    import zkray.zkvm.multi as multi

    root = Path(multi.__file__).parent
    for name in ("verifier.py", "proof.py", "protocol.py", "lookup.py", "chip.py"):
        tree = ast.parse((root / name).read_text())
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imported if m and m.endswith("prover")], name
