"""STARK parameters and the conjectured-security calculation they must pass (docs/stark.md explains it).

Conjectured security (ethSTARK, §5.10.1 "toy problem" conjecture, as used by Winterfell and Plonky3):
each FRI query gives log2(1/ρ) = log_blowup bits, proof-of-work grinding adds its bits, and the whole is
capped by the extension field (DEEP/ALI and FRI folding errors ~ n·deg/|F_ext|) and by the hash's
collision resistance (128 bits for a 256-bit digest):

    λ = min(num_queries · log_blowup + grinding_bits,  log2|F_ext| − log2(|LDE domain|) − 1,  128)

(the middle term is Winterfell's bound for the DEEP/ALI and FRI-folding errors over the extension field;
with |F_ext| = p^4 ≈ 2^123.7 it stays ≥ 100 bits for LDE domains up to 2^22, i.e. traces up to 2^20 rows
at blowup 4 — the verifier refuses larger domains rather than claim less).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zkray.zkvm import field as F
from zkray.zkvm.ext import D

MIN_SECURITY_BITS = 100


@dataclass(frozen=True)
class StarkParams:
    """Prover and verifier must agree on these; they are bound into the transcript and the seal."""

    log_blowup: int = 2  # LDE domain = 4 × trace length (rate 1/4)
    num_queries: int = 44  # 44 · 2 = 88 bits from queries
    grinding_bits: int = 16  # + 16 bits of proof of work = 104 bits
    fri_log_arity: int = 3  # fold by 8 per FRI layer: fewer layers, fewer Merkle paths
    fri_log_final_degree: int = 4  # stop folding at degree < 16 and send the polynomial

    def security_bits(self, log_domain: int) -> float:
        """Conjectured bits for an LDE domain of 2^log_domain points."""
        field_bits = D * math.log2(F.P) - log_domain - 1
        return min(self.num_queries * self.log_blowup + self.grinding_bits, field_bits, 128.0)

    def validate(self) -> None:
        if not 1 <= self.log_blowup <= 4:
            raise ValueError("log_blowup must be in 1..4")
        if not 1 <= self.fri_log_arity <= 4:
            raise ValueError("fri_log_arity must be in 1..4")
        if not 0 <= self.grinding_bits <= 30:
            raise ValueError("grinding_bits must be in 0..30")
        if not 1 <= self.num_queries <= 512:
            raise ValueError("num_queries must be in 1..512")

    def encode(self) -> bytes:
        return bytes(
            [self.log_blowup, self.num_queries & 0xFF, self.num_queries >> 8, self.grinding_bits,
             self.fri_log_arity, self.fri_log_final_degree]
        )


DEFAULT_PARAMS = StarkParams()
