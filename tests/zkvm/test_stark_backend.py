"""The array-backend seam: the compiled kernels and the naive reference give byte-identical proofs."""

import pytest

from zkray.zkvm import proof as proof_codec
from zkray.zkvm.backend import CompiledBackend, ReferenceBackend, default_backend
from zkray.zkvm.guests import BUILTIN_GUESTS
from zkray.zkvm.params import DEFAULT_PARAMS
from zkray.zkvm.prover import prove
from zkray.zkvm.verifier import verify_seal


@pytest.mark.parametrize("guest", ["fib", "fib_input_initial"])
def test_reference_and_compiled_backends_agree(guest):
    g = BUILTIN_GUESTS[guest]
    inp = g.parse_input({"n": 11} if guest == "fib" else {"n": 11, "a": 2**32 - 5, "b": 9})
    trace, public, _ = g.witness(inp)
    fast = proof_codec.encode(prove(g.air, trace, public, backend=CompiledBackend()))
    slow = proof_codec.encode(prove(g.air, trace, public, backend=ReferenceBackend()))
    assert fast == slow
    verify_seal(g.air, slow, public, DEFAULT_PARAMS)


def test_backend_is_chosen_by_environment(monkeypatch):
    monkeypatch.setenv("ZKRAY_BACKEND", "reference")
    assert default_backend().name == "reference"
    monkeypatch.setenv("ZKRAY_BACKEND", "bogus")
    with pytest.raises(ValueError, match="ZKRAY_BACKEND"):
        default_backend()
