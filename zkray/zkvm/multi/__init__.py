"""Multi-chip STARK: several AIRs of different heights in one proof, tied together by LogUp interactions.

`prove_multi(chips, traces, public)` / `verify_multi(chips, proof, public)`; `encode` / `decode` give the
canonical seal. docs/multi-stark.md describes the protocol and its security.
"""

from zkray.zkvm.multi.chip import Chip, Interaction, PublicTuple
from zkray.zkvm.multi.proof import MultiProof, decode, encode
from zkray.zkvm.multi.prover import prove_multi
from zkray.zkvm.multi.verifier import verify_multi, verify_multi_seal

__all__ = ["Chip", "Interaction", "MultiProof", "PublicTuple", "decode", "encode", "prove_multi", "verify_multi",
           "verify_multi_seal"]
