"""The Fibonacci guests end to end: completeness across inputs, and soundness tests that tamper."""

import struct

import numpy as np
import pytest

import zkray
from zkray.zkvm import proof as proof_codec
from zkray.zkvm.errors import InputError, ProofError, VerificationError
from zkray.zkvm.guests import BUILTIN_GUESTS
from zkray.zkvm.guests.fib_air import A_HI, A_LO, B_BITS, K0, fib_term
from zkray.zkvm.params import DEFAULT_PARAMS
from zkray.zkvm.prover import prove as stark_prove
from zkray.zkvm.receipt import Receipt
from zkray.zkvm.verifier import verify_seal

FIB = BUILTIN_GUESTS["fib"]
FII = BUILTIN_GUESTS["fib_input_initial"]


@pytest.mark.parametrize("n", [0, 1, 2, 9, 15, 16, 47, 48, 100, 1000])
def test_fib_proves_and_verifies(n):
    r = zkray.prove("fib", {"n": n})
    r.verify(FIB.image_id)
    assert struct.unpack("<2I", r.journal) == (n, fib_term(n, 1, 1))


def test_fib_wraps_u32():
    # t_47 with t_0 = t_1 = 1 is the first term above 2^32: the journal holds it mod 2^32.
    assert fib_term(47, 1, 1) < fib_term(46, 1, 1)  # wrapped
    r = zkray.prove("fib", {"n": 60})
    r.verify()
    x, y = 1, 1
    for _ in range(60):
        x, y = y, x + y
    assert struct.unpack("<2I", r.journal)[1] == x % 2**32


@pytest.mark.parametrize(("n", "a", "b"), [(0, 5, 6), (1, 5, 6), (9, 1, 1), (33, 2**32 - 1, 2**32 - 1),
                                           (200, 123456789, 987654321), (17, 0, 0)])
def test_fib_input_initial(n, a, b):
    r = zkray.prove("fib_input_initial", {"n": n, "a": a, "b": b})
    r.verify(FII.image_id)
    assert struct.unpack("<4I", r.journal) == (n, a, b, fib_term(n, a, b))


def test_nexus_reference_value_and_byte_input():
    r = zkray.prove("fib_input_initial", struct.pack("<3I", 9, 1, 1))
    assert struct.unpack("<4I", r.journal)[3] == 55


def test_bad_inputs_are_refused_clearly():
    for bad in ({"n": -1}, {"n": 2**32}, {"m": 3}, {"n": "3"}, {"n": True}, b"\x01\x02", "not json"):
        with pytest.raises(InputError):
            zkray.prove("fib", bad)
    with pytest.raises(InputError, match="unknown guest"):
        zkray.prove("nope", {"n": 1})


@pytest.fixture(scope="module")
def fib20():
    return zkray.prove("fib", {"n": 20})


def test_changed_journal_bytes_rejected(fib20):
    for i in range(len(fib20.journal)):
        for bit in (0, 7):
            j = bytearray(fib20.journal)
            j[i] ^= 1 << bit
            with pytest.raises(VerificationError):
                Receipt(fib20.image_id, bytes(j), fib20.seal).verify()


def test_journal_of_other_length_rejected(fib20):
    with pytest.raises(VerificationError, match="journal"):
        Receipt(fib20.image_id, fib20.journal + b"\0", fib20.seal).verify()


def test_changed_image_id_rejected(fib20):
    other = Receipt(FII.image_id, struct.pack("<4I", 20, 1, 1, fib_term(20, 1, 1)), fib20.seal)
    with pytest.raises(VerificationError):
        other.verify()  # same statement, but a proof for `fib` is not one for `fib_input_initial`
    forged = bytearray(fib20.image_id)
    forged[0] ^= 1
    with pytest.raises(VerificationError, match="unknown image id"):
        Receipt(bytes(forged), fib20.journal, fib20.seal).verify()
    with pytest.raises(VerificationError, match="expected"):
        fib20.verify(FII.image_id)


def test_proof_of_n_is_not_a_proof_of_n_plus_1(fib20):
    claim = Receipt(fib20.image_id, struct.pack("<2I", 21, fib_term(21, 1, 1)), fib20.seal)
    with pytest.raises(VerificationError):
        claim.verify()


def test_changed_public_input_rejected():
    # fib_input_initial: same n and output but a different start pair in the journal.
    r = zkray.prove("fib_input_initial", {"n": 5, "a": 3, "b": 4})
    n, a, b, out = struct.unpack("<4I", r.journal)
    with pytest.raises(VerificationError):
        Receipt(r.image_id, struct.pack("<4I", n, a + 1, b, out), r.seal).verify()


def _proof_from(trace, public):
    proof = stark_prove(FIB.air, trace, public, check=False)
    return proof_codec.encode(proof)


@pytest.mark.parametrize(
    ("what", "column", "row", "delta"),
    [
        ("a bit that is not boolean", B_BITS + 3, 5, 1),
        ("a carry that is not boolean", K0, 9, 2),
        ("a transition a' = b broken", A_LO, 12, 1),
        ("the boundary row 0", A_LO, 0, 1),
        ("the last row", A_HI, -1, 1),
    ],
)
def test_witness_breaking_one_constraint_is_refused_then_rejected(what, column, row, delta):
    inp = FIB.parse_input({"n": 40})
    trace, public, _ = FIB.witness(inp)
    bad = trace.copy()
    bad[column, row] = (int(bad[column, row]) + delta) % (15 * 2**27 + 1)
    with pytest.raises(ProofError, match=r"fails at row"):
        stark_prove(FIB.air, bad, public)  # the prover's own check names the row
    seal = _proof_from(bad, public)
    with pytest.raises(VerificationError):
        verify_seal(FIB.air, seal, public, DEFAULT_PARAMS)


def test_wrong_output_with_consistent_trace_is_rejected():
    # A trace for the true sequence, but the claimed output (boundary at row n) is off by one.
    inp = FIB.parse_input({"n": 30})
    trace, public, _ = FIB.witness(inp)
    forged = (*public[:5], (public[5] + 1) % 2**16, public[6])
    seal = _proof_from(trace, forged)
    with pytest.raises(VerificationError):
        verify_seal(FIB.air, seal, forged, DEFAULT_PARAMS)


def test_prover_check_names_the_failing_constraint():
    inp = FIB.parse_input({"n": 10})
    trace, public, _ = FIB.witness(inp)
    trace[B_BITS, 4] = 2
    with pytest.raises(ProofError, match=r"b_bit0 boolean' fails at row 4"):
        stark_prove(FIB.air, trace, public)


def test_image_ids_differ_and_are_stable():
    assert FIB.image_id != FII.image_id
    assert zkray.guests() == {"fib": FIB.image_id, "fib_input_initial": FII.image_id}
    # The id follows the constraints: a guest with the same name but another version differs.
    from zkray.zkvm.guests.builtin import BuiltinGuest

    assert BuiltinGuest("fib", (1, 1), version=2).image_id != FIB.image_id


def test_trace_shape_is_checked():
    inp = FIB.parse_input({"n": 10})
    trace, public, _ = FIB.witness(inp)
    with pytest.raises(ProofError, match="columns"):
        stark_prove(FIB.air, trace[:-1], public)
    with pytest.raises(ProofError, match="length"):
        stark_prove(FIB.air, np.concatenate([trace, trace], axis=1), public)
