"""The multi-chip verifier: `verify_multi(chips, proof, public)` raises VerificationError unless it holds.

It imports nothing from either prover. It replays the transcript, checks that the chips' cumulative sums
and the public tuples' share add to zero, checks every chip's constraints at the out-of-domain point
against its committed quotient, recomputes every height group's DEEP composition at the queried points
from Merkle-opened rows, and checks the one FRI proof that folds them all (fri_mixed.py).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from zkray.zkvm import deep, merkle
from zkray.zkvm import ext as E
from zkray.zkvm import field as F
from zkray.zkvm.errors import ReceiptError, VerificationError
from zkray.zkvm.multi import fri_mixed
from zkray.zkvm.multi.chip import Chip, PublicTuple, bus_arities, check_public_tuples
from zkray.zkvm.multi.lookup import public_sum
from zkray.zkvm.multi.proof import MultiProof, decode
from zkray.zkvm.multi.protocol import (
    MAX_LOG_N,
    SHIFT,
    height_groups,
    lookup_challenges,
    quotient_matches,
    security_bits,
    start_transcript,
)
from zkray.zkvm.params import MIN_SECURITY_BITS, StarkParams

_ONE = np.array([1, 0, 0, 0], dtype=np.uint32)
_ZERO = np.zeros(4, dtype=np.uint32)


def verify_multi_seal(chips: Sequence[Chip], seal: bytes, public: Sequence[int], params: StarkParams, *,
                      public_tuples: Sequence[PublicTuple] = ()) -> None:
    """Decode and verify; malformed bytes are a VerificationError too (chained to the ReceiptError)."""
    try:
        proof = decode(seal, chips, params)
    except ReceiptError as e:
        raise VerificationError(f"multi-chip seal is malformed: {e}") from e
    verify_multi(chips, proof, public, public_tuples=public_tuples)


def _check_ood(chip: Chip, proof: MultiProof, i: int, challenges: list[np.ndarray], lam: np.ndarray,
               z: np.ndarray, public: Sequence[int]) -> None:
    """The chip's constraint composition at z must equal its committed quotient chunks at z."""
    if not quotient_matches(chip, proof.ood[i], 1 << proof.log_ns[i], challenges, lam, z, public):
        raise VerificationError(f"{chip.name}: constraints do not hold at the out-of-domain point (quotient mismatch)")


def _check_form(chips: Sequence[Chip], proof: MultiProof) -> None:
    """Shapes, counts and canonical values of an in-memory proof (the decoder guarantees them for seals;
    a caller may hand `verify_multi` a proof object it built or altered itself)."""
    params, log_ns = proof.params, proof.log_ns
    if len(log_ns) != len(chips) or len(proof.ood) != len(chips) or len(proof.cumulative_sums) != len(chips):
        raise VerificationError(f"proof is for {len(log_ns)} chips, the verifier has {len(chips)}")
    if any(not 1 <= h <= MAX_LOG_N for h in log_ns):
        raise VerificationError(f"a chip height is outside [2, 2^{MAX_LOG_N}]")
    arrays = []
    for chip, o, c in zip(chips, proof.ood, proof.cumulative_sums, strict=True):
        mw, aw, qw = chip.air.main_width, 4 * chip.aux_width, 4 * chip.quotient_chunks
        shapes = [a.shape for a in (o.main_z, o.main_zg, o.aux_z, o.aux_zg, o.quotient_z)]
        if shapes != [(mw, 4), (mw, 4), (aw, 4), (aw, 4), (qw, 4)] or (c is not None and c.shape != (4,)):
            raise VerificationError(f"{chip.name}: out-of-domain values have the wrong shape for this chip")
        arrays += [o.main_z, o.main_zg, o.aux_z, o.aux_zg, o.quotient_z, *([c] if c is not None else [])]
    groups = height_groups(log_ns)
    if len(proof.groups) != len(groups):
        raise VerificationError("proof has the wrong number of height groups")
    arities, final = fri_mixed.schedule([h for h, _ in groups], params)
    if len(proof.fri_roots) != len(arities) or len(proof.fri_open) != len(arities):
        raise VerificationError("wrong number of FRI layers")
    if proof.fri_final.shape != (1 << final, 4):
        raise VerificationError("FRI final polynomial has the wrong degree")
    arrays.append(proof.fri_final)
    if any(a.size and int(a.max()) >= F.P for a in arrays):
        raise VerificationError("proof holds non-canonical field elements")
    if not 0 <= proof.pow_nonce < 1 << 64:
        raise VerificationError("proof-of-work nonce out of range")


def verify_multi(chips: Sequence[Chip], proof: MultiProof, public: Sequence[int] = (), *,
                 public_tuples: Sequence[PublicTuple] = ()) -> None:
    params = proof.params
    params.validate()
    try:
        check_public_tuples(public_tuples, bus_arities(chips))
    except ValueError as e:
        raise VerificationError(f"the statement is malformed: {e}") from e
    _check_form(chips, proof)
    log_ns = proof.log_ns
    bits = security_bits(params, chips, log_ns, len(public_tuples))
    if bits < MIN_SECURITY_BITS:
        raise VerificationError(f"parameters give {bits:.1f} bits for these heights, below {MIN_SECURITY_BITS}")
    for chip, log_n in zip(chips, log_ns, strict=True):
        if chip.fixed_height and log_n != chip.air.log_trace_length(public):
            raise VerificationError(f"{chip.name}: proof is for 2^{log_n} rows, the public inputs imply "
                                    f"2^{chip.air.log_trace_length(public)}")
    groups = height_groups(log_ns)
    tr = start_transcript(chips, params, log_ns, public, public_tuples)

    for gp in proof.groups:
        tr.absorb(b"main root", gp.main_root)
    alpha, betas = lookup_challenges(tr, chips)
    for gp, (_, members) in zip(proof.groups, groups, strict=True):
        has_aux = any(chips[i].interactions for i in members)
        if (gp.aux_root is not None) != has_aux:
            raise VerificationError("aux commitment present where no chip has interactions, or missing")
        if gp.aux_root is not None:
            tr.absorb(b"aux root", gp.aux_root)
    total = public_sum(public_tuples, alpha, betas)
    for chip, c in zip(chips, proof.cumulative_sums, strict=True):
        if (c is not None) != bool(chip.interactions):
            raise VerificationError(f"{chip.name}: cumulative sum present without interactions, or missing")
        if c is not None:
            tr.absorb_field(b"cumulative sum " + chip.name.encode(), c)
            total = F.add(total, c)
    # The global LogUp identity: every tuple sent (by a chip or the statement) is received as often.
    if total.any():
        raise VerificationError("interactions do not balance: the chips' cumulative sums and the public tuples "
                                "do not add up to zero")

    lam = tr.challenge_ext(b"composition")
    for gp in proof.groups:
        tr.absorb(b"quotient root", gp.quotient_root)
    z = tr.challenge_ext(b"ood point")
    for chip, o in zip(chips, proof.ood, strict=True):
        tr.absorb_field(b"ood " + chip.name.encode(),
                        np.concatenate([o.main_z, o.main_zg, o.aux_z, o.aux_zg, o.quotient_z]))
    for log_n, _ in groups:
        log_m = log_n + params.log_blowup
        if np.array_equal(E.pow_ext(z, 1 << log_n), _ONE) or np.array_equal(
                E.pow_ext(z, 1 << log_m), E.from_base(pow(SHIFT, 1 << log_m, F.P))):
            raise VerificationError("out-of-domain point fell inside an evaluation domain (retry)")
    for i, chip in enumerate(chips):
        c = proof.cumulative_sums[i]
        _check_ood(chip, proof, i, [alpha, c if c is not None else _ZERO, *betas], lam, z, public)

    gammas = [tr.challenge_ext(b"deep") for _ in proof.groups]
    heights = [h for h, _ in groups]
    mu = tr.challenge_ext(b"fri mix")
    betas = []
    for k, root in enumerate(proof.fri_roots):
        tr.absorb(b"fri root %d" % k, root)
        betas.append(tr.challenge_ext(b"fri fold %d" % k))
    tr.absorb_field(b"fri final", proof.fri_final)
    if not tr.check_grind(params.grinding_bits, proof.pow_nonce):
        raise VerificationError("proof-of-work nonce does not meet the grinding target")
    tr.absorb(b"pow", struct.pack("<Q", proof.pow_nonce))
    indices = tr.challenge_indices(b"queries", params.num_queries, heights[0] + params.log_blowup)

    deep_at = []
    for gi, (gp, (log_n, members)) in enumerate(zip(proof.groups, groups, strict=True)):
        log_m = log_n + params.log_blowup
        local = [q % (1 << log_m) for q in indices]  # the query's position in this group's domain
        uniq = sorted(set(local))
        mats = [(gp.main_root, gp.main_open, sum(chips[i].air.main_width for i in members), "main")]
        if gp.aux_root is not None:
            mats.append((gp.aux_root, gp.aux_open, sum(4 * chips[i].aux_width for i in members), "aux"))  # type: ignore[arg-type]
        mats.append((gp.quotient_root, gp.quotient_open, sum(4 * chips[i].quotient_chunks for i in members),
                     "quotient"))
        rows = []
        for root, op, width, name in mats:
            if op is None or op.rows.shape != (len(uniq), width):
                raise VerificationError(f"group 2^{log_n}: {name} opening has the wrong shape")
            merkle.verify(root, log_m, uniq, op.rows, op.siblings)
            rows.append(op.rows)
        # DEEP at each queried point, columns in the order the prover combined them.
        oods = [proof.ood[i] for i in members]
        main_z = np.concatenate([o.main_z for o in oods])
        main_zg = np.concatenate([o.main_zg for o in oods])
        aux_z = np.concatenate([o.aux_z for o in oods])
        aux_zg = np.concatenate([o.aux_zg for o in oods])
        quot_z = np.concatenate([o.quotient_z for o in oods])
        all_rows = np.concatenate(rows, axis=1)
        coeffs = deep.coefficients(gammas[gi], all_rows.shape[1], main_z.shape[0] + aux_z.shape[0])
        sums = np.zeros((len(uniq), 8), dtype=np.uint32)
        deep._combine(np.ascontiguousarray(all_rows.T), coeffs, sums)
        s1_z, s2_zg = deep.sums_at(np.concatenate([main_z, aux_z, quot_z]), np.concatenate([main_zg, aux_zg]), coeffs)
        w = F.root_of_unity(log_m)
        xs = np.array([pow(w, q, F.P) * SHIFT % F.P for q in uniq], dtype=np.uint32)
        zg = F.mul(z, np.uint32(F.root_of_unity(log_n)))
        values = deep.deep_values(sums, xs, z, zg, s1_z, s2_zg)
        pos = {q: k for k, q in enumerate(uniq)}
        deep_at.append(values[[pos[q] for q in local]])
    fri_mixed.verify_queries(proof.fri_roots, proof.fri_final, betas, indices, deep_at, heights, params, mu,
                             [(op.rows, op.siblings) for op in proof.fri_open])
