"""What prover and verifier of the multi-chip STARK share: the transcript's start, the grouping of
chips by height, and the security calculation. (The verifier imports this, never the prover.)"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from zkray.zkvm import ext as E
from zkray.zkvm import field as F
from zkray.zkvm.air import PointBuilder, Val
from zkray.zkvm.composition import quotient_at
from zkray.zkvm.ext import D
from zkray.zkvm.multi.chip import Chip, PublicTuple, bus_arities, bus_id
from zkray.zkvm.multi.lookup import eval_chip
from zkray.zkvm.params import StarkParams
from zkray.zkvm.transcript import Transcript

if TYPE_CHECKING:  # proof.py imports this module (the seal decoder needs the grouping)
    from zkray.zkvm.multi.proof import ChipOod

PROTOCOL = b"zkray-multi-stark-v2"  # v2: independent β_i per tuple position, batched LogUp columns
SHIFT = F.GENERATOR  # every LDE lives on the coset s·<ω_m>, disjoint from every trace domain
MAX_LOG_N = 24


def height_groups(log_ns: Sequence[int]) -> list[tuple[int, list[int]]]:
    """Chips grouped by height, tallest first; chips keep their list order inside a group.

    Each group shares one Merkle tree per phase (main, aux, quotient) and one DEEP function."""
    return [(h, [i for i, v in enumerate(log_ns) if v == h]) for h in sorted(set(log_ns), reverse=True)]


def security_bits(params: StarkParams, chips: Sequence[Chip], log_ns: Sequence[int], public_tuples: int = 0) -> float:
    """Conjectured bits: the single-AIR bound with the field term charged for every group's LDE domain
    together (their DEEP/ALI and folding errors add up), capped by the LogUp error 2N/|F_ext| (N tuples
    on the buses, counting padding rows; docs/multi-stark.md derives it)."""
    total = sum(1 << (h + params.log_blowup) for h in set(log_ns))
    bits = params.security_bits(math.log2(total))  # type: ignore[arg-type]
    tuples = lookup_tuples(chips, log_ns, public_tuples)
    if tuples:
        bits = min(bits, D * math.log2(F.P) - math.log2(2 * tuples))
    return bits


def lookup_tuples(chips: Sequence[Chip], log_ns: Sequence[int], public_tuples: int = 0) -> int:
    """N: every (row, interaction) pair of every chip plus the public tuples."""
    return sum(len(c.interactions) << h for c, h in zip(chips, log_ns, strict=True)) + public_tuples


def lookup_challenges(tr: Transcript, chips: Sequence[Chip]) -> tuple[np.ndarray, list[np.ndarray]]:
    """α and β_1..β_A (A = the longest tuple on any bus), drawn after every main root is absorbed."""
    alpha = tr.challenge_ext(b"logup alpha")
    width = max(bus_arities(chips).values(), default=0)
    return alpha, [tr.challenge_ext(b"logup beta %d" % i) for i in range(1, width + 1)]


def quotient_matches(chip: Chip, o: ChipOod, n: int, challenges: list[np.ndarray], lam: np.ndarray, z: np.ndarray,
                     public: Sequence[int]) -> bool:
    """Whether the chip's constraint composition at z (from its opened values) equals its quotient chunks
    at z: the verifier's out-of-domain check, which the prover also runs (with `check`) to catch a chip
    whose constraints exceed its declared degree (its quotient, computed on a domain sized for that degree,
    is then wrong)."""
    aux_z = [Val(E.from_coords(o.aux_z[4 * a : 4 * a + 4]), True) for a in range(chip.aux_width)]
    aux_zg = [Val(E.from_coords(o.aux_zg[4 * a : 4 * a + 4]), True) for a in range(chip.aux_width)]
    builder = PointBuilder(main=[Val(v, True) for v in o.main_z], main_next=[Val(v, True) for v in o.main_zg],
                           aux=aux_z, aux_next=aux_zg, challenges=[Val(c, True) for c in challenges],
                           public=public, n=n)
    eval_chip(chip, builder)
    expected = quotient_at(builder.values, lam, z, n)
    z_n, z_kn = E.pow_ext(z, n), np.array([1, 0, 0, 0], dtype=np.uint32)
    committed = np.zeros(4, dtype=np.uint32)
    for k in range(chip.quotient_chunks):
        committed = F.add(committed, E.mul(E.from_coords(o.quotient_z[4 * k : 4 * k + 4]), z_kn))
        z_kn = E.mul(z_kn, z_n)
    return bool(np.array_equal(expected, committed))


def start_transcript(chips: Sequence[Chip], params: StarkParams, log_ns: Sequence[int], public: Sequence[int],
                     public_tuples: Sequence[PublicTuple]) -> Transcript:
    """Protocol tag, parameters, every chip's fingerprint and height, the public inputs and tuples."""
    t = Transcript(PROTOCOL)
    t.absorb(b"params", params.encode())
    t.absorb(b"chip count", struct.pack("<I", len(chips)))
    for chip, log_n in zip(chips, log_ns, strict=True):
        t.absorb(b"chip", chip.fingerprint() + struct.pack("<B", log_n))
    t.absorb_field(b"public", [int(v) % F.P for v in public])
    for pt in public_tuples:
        t.absorb_field(b"public tuple", [bus_id(pt.bus), len(pt.values), *(int(v) % F.P for v in pt.values),
                                         pt.multiplicity % F.P])
    return t
