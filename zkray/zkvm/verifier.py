"""The STARK verifier: `verify(air, proof, public)` raises VerificationError unless the proof holds.

It imports nothing from the prover: it replays the transcript from the proof's commitments, checks the
constraint composition at the out-of-domain point, recomputes the DEEP composition at every queried
point from Merkle-opened rows, and checks FRI. Each failure names the check that failed.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from zkray.zkvm import deep, fri, merkle
from zkray.zkvm import ext as E
from zkray.zkvm import field as F
from zkray.zkvm.air import Air, PointBuilder, Val
from zkray.zkvm.composition import quotient_at
from zkray.zkvm.errors import ReceiptError, VerificationError
from zkray.zkvm.params import MIN_SECURITY_BITS, StarkParams
from zkray.zkvm.proof import StarkProof, decode, fri_schedule, quotient_chunks
from zkray.zkvm.transcript import Transcript

SHIFT = F.GENERATOR


def _start(air: Air, params: StarkParams, log_n: int, public: Sequence[int]) -> Transcript:
    # Mirrors prover.start_transcript; duplicated on purpose so the verifier never imports the prover.
    t = Transcript(b"zkray-stark-v1")
    t.absorb(b"air", air.fingerprint())
    t.absorb(b"params", params.encode())
    t.absorb(b"log_n", struct.pack("<B", log_n))
    t.absorb_field(b"public", [int(v) % F.P for v in public])
    return t


def verify_seal(air: Air, seal: bytes, public: Sequence[int], params: StarkParams) -> None:
    """Decode and verify a seal; malformed bytes are a VerificationError too (chained to the ReceiptError)."""
    try:
        proof = decode(seal, air, params)
    except ReceiptError as e:
        raise VerificationError(f"seal is malformed: {e}") from e
    verify(air, proof, public)


def verify(air: Air, proof: StarkProof, public: Sequence[int]) -> None:
    params = proof.params
    params.validate()
    log_n = proof.log_n
    bits = params.security_bits(log_n + params.log_blowup)
    if bits < MIN_SECURITY_BITS:
        raise VerificationError(f"parameters give {bits:.1f} bits for 2^{log_n} rows, below {MIN_SECURITY_BITS}")
    expected_log_n = air.log_trace_length(public)
    if log_n != expected_log_n:
        raise VerificationError(f"proof is for 2^{log_n} rows, the public inputs imply 2^{expected_log_n}")
    n = 1 << log_n
    log_m = log_n + params.log_blowup
    tr = _start(air, params, log_n, public)

    tr.absorb(b"main root", proof.main_root)
    challenges = [tr.challenge_ext(b"aux challenge %d" % i) for i in range(air.num_challenges)]
    if air.aux_width:
        if proof.aux_root is None:
            raise VerificationError("proof lacks the auxiliary commitment")
        tr.absorb(b"aux root", proof.aux_root)
    beta = tr.challenge_ext(b"composition")
    tr.absorb(b"quotient root", proof.quotient_root)
    z = tr.challenge_ext(b"ood point")
    g = F.root_of_unity(log_n)
    zg = F.mul(z, np.uint32(g))
    for label, arr in ((b"ood main z", proof.ood_main_z), (b"ood main zg", proof.ood_main_zg),
                       (b"ood aux z", proof.ood_aux_z), (b"ood aux zg", proof.ood_aux_zg),
                       (b"ood quotient z", proof.ood_quotient_z)):
        tr.absorb_field(label, arr)

    # Out-of-domain check: the constraint composition at z equals the committed quotient at z.
    one = np.array([1, 0, 0, 0], dtype=np.uint32)
    if np.array_equal(E.pow_ext(z, n), one) or np.array_equal(E.pow_ext(z, 1 << log_m),
                                                              E.from_base(pow(SHIFT, 1 << log_m, F.P))):
        raise VerificationError("out-of-domain point fell inside the evaluation domain (retry)")
    aux_z = [Val(E.from_coords(proof.ood_aux_z[4 * a : 4 * a + 4]), True) for a in range(air.aux_width)]
    aux_zg = [Val(E.from_coords(proof.ood_aux_zg[4 * a : 4 * a + 4]), True) for a in range(air.aux_width)]
    builder = PointBuilder(
        main=[Val(v, True) for v in proof.ood_main_z], main_next=[Val(v, True) for v in proof.ood_main_zg],
        aux=aux_z, aux_next=aux_zg, challenges=[Val(c, True) for c in challenges], public=public, n=n,
    )
    air.eval(builder)
    expected_q = quotient_at(builder.values, beta, z, n)
    z_n = E.pow_ext(z, n)
    committed_q = np.zeros(4, dtype=np.uint32)
    z_kn = one
    for k in range(quotient_chunks(air)):
        committed_q = F.add(committed_q, E.mul(E.from_coords(proof.ood_quotient_z[4 * k : 4 * k + 4]), z_kn))
        z_kn = E.mul(z_kn, z_n)
    if not np.array_equal(expected_q, committed_q):
        raise VerificationError("constraints do not hold at the out-of-domain point (quotient mismatch)")

    # FRI commitments, grinding, queries.
    gamma = tr.challenge_ext(b"deep")
    schedule = fri_schedule(log_n, params)
    if len(proof.fri_roots) != len(schedule):
        raise VerificationError("wrong number of FRI layers")
    betas = []
    for i, root in enumerate(proof.fri_roots):
        tr.absorb(b"fri root %d" % i, root)
        betas.append(tr.challenge_ext(b"fri fold %d" % i))
    tr.absorb_field(b"fri final", proof.fri_final)
    if not tr.check_grind(params.grinding_bits, proof.pow_nonce):
        raise VerificationError("proof-of-work nonce does not meet the grinding target")
    tr.absorb(b"pow", struct.pack("<Q", proof.pow_nonce))
    indices = tr.challenge_indices(b"queries", params.num_queries, log_m)
    uniq = sorted(set(indices))

    openings = [(proof.main_root, proof.main_open, air.main_width, "main")]
    if air.aux_width:
        openings.append((proof.aux_root, proof.aux_open, 4 * air.aux_width, "aux"))  # type: ignore[arg-type]
    openings.append((proof.quotient_root, proof.quotient_open, 4 * quotient_chunks(air), "quotient"))
    rows_by_matrix = []
    for root, op, width, name in openings:
        if op is None or op.rows.shape != (len(uniq), width):
            raise VerificationError(f"{name} opening has the wrong shape")
        merkle.verify(root, log_m, uniq, op.rows, op.siblings)
        rows_by_matrix.append(op.rows)

    # DEEP composition at each queried point, from the opened rows.
    all_rows = np.concatenate(rows_by_matrix, axis=1)  # (u, n_all)
    n_all = all_rows.shape[1]
    n_shifted = air.main_width + 4 * air.aux_width
    coeffs = deep.coefficients(gamma, n_all, n_shifted)
    sums = np.zeros((len(uniq), 8), dtype=np.uint32)
    deep._combine(np.ascontiguousarray(all_rows.T), coeffs, sums)
    s1_z, s2_zg = deep.sums_at(np.concatenate([proof.ood_main_z, proof.ood_aux_z, proof.ood_quotient_z]),
                               np.concatenate([proof.ood_main_zg, proof.ood_aux_zg]), coeffs)
    w = F.root_of_unity(log_m)
    xs = np.array([pow(w, i, F.P) * SHIFT % F.P for i in uniq], dtype=np.uint32)
    deep_at = deep.deep_values(sums, xs, z, zg, s1_z, s2_zg)
    pos = {q: i for i, q in enumerate(uniq)}
    first_values = deep_at[[pos[q] for q in indices]]
    fri.verify_queries(proof.fri_roots, proof.fri_final, betas, indices, first_values,
                       [(op.rows, op.siblings) for op in proof.fri_open], log_m, SHIFT, schedule)
