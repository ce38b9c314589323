"""The STARK prover: `prove(air, main_trace, public) -> StarkProof`.

Steps, in transcript order (the verifier replays the same order):
 1. commit the main trace's LDE; draw the AIR's challenges; build, check and commit the auxiliary trace;
 2. draw β, evaluate the constraint composition over the LDE coset, split the quotient into chunks of
    degree < n and commit them;
 3. draw the out-of-domain point z, send every column at z (and main/aux at z·g);
 4. draw γ, build the DEEP composition and prove it low degree with FRI;
 5. grind, draw the query positions and open every commitment there.
The prover refuses a trace that violates its AIR (naming the row and constraint) unless told not to check,
which only soundness tests do.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from zkray.zkvm import deep, fri, merkle, ntt
from zkray.zkvm import field as F
from zkray.zkvm.air import Air, DebugBuilder, Val
from zkray.zkvm.backend import ArrayBackend, default_backend
from zkray.zkvm.composition import LdeBuilder
from zkray.zkvm.errors import ProofError
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams
from zkray.zkvm.proof import Opening, StarkProof, fri_schedule, quotient_chunks
from zkray.zkvm.transcript import Transcript

SHIFT = F.GENERATOR  # the LDE coset s·<ω_m>, disjoint from the trace domain <ω_n>


@dataclass
class ProverStats:
    """Seconds spent per phase (bench/ prints them)."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - since
        return now


def start_transcript(air: Air, params: StarkParams, log_n: int, public: Sequence[int]) -> Transcript:
    """The transcript both sides start from: protocol, AIR fingerprint, parameters, size, public inputs."""
    t = Transcript(b"zkray-stark-v1")
    t.absorb(b"air", air.fingerprint())
    t.absorb(b"params", params.encode())
    t.absorb(b"log_n", struct.pack("<B", log_n))
    t.absorb_field(b"public", [int(v) % F.P for v in public])
    return t


def check_trace(air: Air, main: np.ndarray, aux: np.ndarray | None, challenges: list[np.ndarray],
                public: Sequence[int]) -> None:
    """The debug checker: raise ProofError naming the first violated constraint and its row."""
    builder = DebugBuilder(air, main, aux, challenges, public)
    air.eval(builder)
    if builder.violations:
        v = builder.violations[0]
        more = len(builder.violations) - 1
        raise ProofError(
            f"{air.name}: constraint '{v.constraint}' fails at row {v.row}"
            + (f" (and {more} more violations)" if more else "")
            + "; the witness does not satisfy the AIR"
        )


def _ext_columns(base_cols: np.ndarray) -> list[Val]:
    """(4a, m) coordinate columns -> a extension values of shape (m, 4)."""
    return [Val(np.ascontiguousarray(base_cols[4 * a : 4 * a + 4].T), True) for a in range(base_cols.shape[0] // 4)]


def prove(air: Air, main: np.ndarray, public: Sequence[int], params: StarkParams = DEFAULT_PARAMS, *,
          check: bool = True, stats: ProverStats | None = None, backend: ArrayBackend | None = None) -> StarkProof:
    params.validate()
    bk = backend if backend is not None else default_backend()
    stats = stats if stats is not None else ProverStats()
    t0 = time.perf_counter()
    main = np.ascontiguousarray(main, dtype=np.uint32)
    width, n = main.shape
    log_n = n.bit_length() - 1
    if width != air.main_width:
        raise ProofError(f"{air.name}: trace has {width} columns, the AIR declares {air.main_width}")
    if n != 1 << log_n or log_n != air.log_trace_length(public):
        raise ProofError(f"{air.name}: trace length {n} is not 2^{air.log_trace_length(public)}")
    if int(main.max(initial=0)) >= F.P:
        raise ProofError(f"{air.name}: trace holds values that are not canonical field elements")
    if check and not air.aux_width:
        check_trace(air, main, None, [], public)
    t0 = stats.add("check", t0)

    log_m = log_n + params.log_blowup
    m, blowup = 1 << log_m, 1 << params.log_blowup
    tr = start_transcript(air, params, log_n, public)

    # 1. main trace, challenges, auxiliary trace
    main_coeffs = bk.intt(main)
    main_lde = bk.coset_ntt(main_coeffs, SHIFT, m)
    t0 = stats.add("lde", t0)
    main_tree = merkle.commit(main_lde.T, bk)
    tr.absorb(b"main root", main_tree.root)
    t0 = stats.add("commit", t0)
    challenges = [tr.challenge_ext(b"aux challenge %d" % i) for i in range(air.num_challenges)]
    aux_coeffs = aux_lde = aux_tree = None
    if air.aux_width:
        aux = np.asarray(air.generate_aux(main, challenges), dtype=np.uint32)
        if check:
            check_trace(air, main, aux, challenges, public)
        aux_base = np.ascontiguousarray(aux.transpose(0, 2, 1).reshape(4 * air.aux_width, n))
        t0 = stats.add("aux", t0)
        aux_coeffs = bk.intt(aux_base)
        aux_lde = bk.coset_ntt(aux_coeffs, SHIFT, m)
        t0 = stats.add("lde", t0)
        aux_tree = merkle.commit(aux_lde.T, bk)
        tr.absorb(b"aux root", aux_tree.root)
        t0 = stats.add("commit", t0)

    # 2. composition and quotient chunks
    beta = tr.challenge_ext(b"composition")
    aux_vals = _ext_columns(aux_lde) if aux_lde is not None else []
    builder = LdeBuilder(
        main=[Val(c, False) for c in main_lde],
        main_next=[Val(np.roll(c, -blowup), False) for c in main_lde],
        aux=aux_vals,
        aux_next=[Val(np.roll(v.v, -blowup, axis=0), True) for v in aux_vals],
        challenges=[Val(c, True) for c in challenges], public=public, n=n, m=m, beta=beta,
    )
    air.eval(builder)
    xs = ntt.domain(log_m, SHIFT)
    q = builder.quotient(xs)
    t0 = stats.add("constraints", t0)
    chunks = quotient_chunks(air)
    q_coeffs = bk.coset_intt(np.ascontiguousarray(q.T), SHIFT)  # (4, m)
    if check and q_coeffs[:, chunks * n :].any():
        raise ProofError(f"{air.name}: the constraints have a higher degree than max_degree = {air.max_degree} "
                         "declares (boundary constraints must be of degree < max_degree)")
    quot_coeffs = np.concatenate([q_coeffs[:, k * n : (k + 1) * n] for k in range(chunks)], axis=0)
    quot_lde = bk.coset_ntt(quot_coeffs, SHIFT, m)
    quot_tree = merkle.commit(quot_lde.T, bk)
    tr.absorb(b"quotient root", quot_tree.root)
    t0 = stats.add("quotient", t0)

    # 3. out-of-domain openings
    z = tr.challenge_ext(b"ood point")
    g = F.root_of_unity(log_n)
    zg = F.mul(z, np.uint32(g))
    main_z, main_zg = deep.evaluate_at(main_coeffs, z, zg)
    if aux_coeffs is not None:
        aux_z, aux_zg = deep.evaluate_at(aux_coeffs, z, zg)
    else:
        aux_z = aux_zg = np.zeros((0, 4), dtype=np.uint32)
    quot_z, _ = deep.evaluate_at(quot_coeffs, z, zg)
    for label, arr in ((b"ood main z", main_z), (b"ood main zg", main_zg), (b"ood aux z", aux_z),
                       (b"ood aux zg", aux_zg), (b"ood quotient z", quot_z)):
        tr.absorb_field(label, arr)
    t0 = stats.add("ood", t0)

    # 4. DEEP composition and FRI
    gamma = tr.challenge_ext(b"deep")
    mats = [main_lde, *([aux_lde] if aux_lde is not None else []), quot_lde]
    n_all = sum(mat.shape[0] for mat in mats)
    n_shifted = width + (aux_lde.shape[0] if aux_lde is not None else 0)
    coeffs = deep.coefficients(gamma, n_all, n_shifted)
    sums = bk.combine_columns(mats, coeffs, m)
    s1_z, s2_zg = deep.sums_at(np.concatenate([main_z, aux_z, quot_z]), np.concatenate([main_zg, aux_zg]),
                               coeffs)
    deep_evals = deep.deep_values(sums, xs, z, zg, s1_z, s2_zg, bk.ext_batch_inv)
    t0 = stats.add("deep", t0)
    schedule = fri_schedule(log_n, params)
    final_len = 1 << (log_n - sum(schedule))
    fri_commit = fri.commit_phase(deep_evals, SHIFT, schedule, final_len, tr, bk)
    t0 = stats.add("fri", t0)

    # 5. grinding and queries
    nonce = tr.grind(params.grinding_bits)
    tr.absorb(b"pow", struct.pack("<Q", nonce))
    indices = tr.challenge_indices(b"queries", params.num_queries, log_m)
    main_open = Opening(*main_tree.open(indices))
    aux_open = Opening(*aux_tree.open(indices)) if aux_tree is not None else None
    quot_open = Opening(*quot_tree.open(indices))
    fri_open = [Opening(*tree.open(layer_idx)) for tree, layer_idx in
                zip(fri_commit.trees, fri.query_indices_per_layer(indices, log_m, schedule), strict=True)]
    stats.add("queries", t0)
    return StarkProof(
        log_n=log_n, params=params, main_root=main_tree.root,
        aux_root=aux_tree.root if aux_tree is not None else None, quotient_root=quot_tree.root,
        ood_main_z=main_z, ood_main_zg=main_zg, ood_aux_z=aux_z, ood_aux_zg=aux_zg, ood_quotient_z=quot_z,
        fri_roots=[t.root for t in fri_commit.trees], fri_final=fri_commit.final, pow_nonce=nonce,
        main_open=main_open, aux_open=aux_open, quotient_open=quot_open, fri_open=fri_open,
    )
