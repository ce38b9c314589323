"""The multi-chip prover: `prove_multi(chips, traces, public) -> MultiProof`.

Steps, in transcript order (the verifier replays them):
 1. per height group, commit the LDE of every chip's main trace (one tree per group);
 2. draw α, β_1..β_A; each chip builds its (batched) LogUp columns and cumulative sum; commit the aux traces per group,
    absorb every cumulative sum;
 3. draw λ; each chip's constraints over its own LDE coset give its quotient, split into chunks of degree
    < n_chip and committed per group;
 4. draw z; each chip opens its columns at z and z·g_chip;
 5. per group, draw γ and build the group's DEEP composition; draw μ and prove all of them low degree
    with one FRI that folds the tallest first and adds each shorter one in at its size (fri_mixed.py);
 6. grind, draw the query positions on the tallest domain and open every group's commitments there.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zkray.zkvm import deep, fri, merkle, ntt
from zkray.zkvm import field as F
from zkray.zkvm.air import DebugBuilder, Val
from zkray.zkvm.backend import ArrayBackend, default_backend
from zkray.zkvm.composition import LdeBuilder
from zkray.zkvm.errors import ProofError
from zkray.zkvm.multi import fri_mixed
from zkray.zkvm.multi.chip import Chip, PublicTuple, bus_arities, check_public_tuples
from zkray.zkvm.multi.lookup import eval_chip, generate_aux, public_sum
from zkray.zkvm.multi.proof import ChipOod, GroupProof, MultiProof
from zkray.zkvm.multi.protocol import (
    MAX_LOG_N,
    SHIFT,
    height_groups,
    lookup_challenges,
    quotient_matches,
    start_transcript,
)
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams
from zkray.zkvm.proof import Opening
from zkray.zkvm.prover import ProverStats

_ZERO4 = np.zeros(4, dtype=np.uint32)


@dataclass
class _Committed:
    """A group's committed matrix: coefficients (rows = columns of its chips, in order), LDE, tree."""

    coeffs: np.ndarray
    lde: np.ndarray
    tree: merkle.MerkleTree


def _commit(parts: list[np.ndarray], m: int, bk: ArrayBackend) -> _Committed:
    coeffs = bk.intt(np.concatenate(parts, axis=0))
    lde = bk.coset_ntt(coeffs, SHIFT, m)
    return _Committed(coeffs, lde, merkle.commit(lde.T, bk))


def _ext_vals(base_cols: np.ndarray) -> list[Val]:
    """(4a, m) coordinate columns -> a extension values (m, 4)."""
    return [Val(np.ascontiguousarray(base_cols[4 * a : 4 * a + 4].T), True) for a in range(base_cols.shape[0] // 4)]


def _offsets(widths: list[int]) -> list[int]:
    return [sum(widths[:i]) for i in range(len(widths) + 1)]


def _check_chip(chip: Chip, main: np.ndarray, aux: np.ndarray | None, challenges: list[np.ndarray],
                public: Sequence[int]) -> None:
    builder = DebugBuilder(chip.air, main, aux, challenges, public)
    eval_chip(chip, builder)
    if builder.violations:
        v, more = builder.violations[0], len(builder.violations) - 1
        raise ProofError(f"{chip.name}: constraint '{v.constraint}' fails at row {v.row}"
                         + (f" (and {more} more violations)" if more else "") + "; the witness does not satisfy it")


def prove_multi(chips: Sequence[Chip], traces: Sequence[np.ndarray], public: Sequence[int] = (),
                params: StarkParams = DEFAULT_PARAMS, *, public_tuples: Sequence[PublicTuple] = (),
                check: bool = True, stats: ProverStats | None = None,
                backend: ArrayBackend | None = None) -> MultiProof:
    """Prove every chip's trace in one proof. With `check` (the default) a trace that breaks its chip's
    constraints, or interactions that do not balance, raise ProofError naming the chip, row or bus."""
    params.validate()
    arity = bus_arities(chips)
    check_public_tuples(public_tuples, arity)
    bk = backend if backend is not None else default_backend()
    stats = stats if stats is not None else ProverStats()
    t0 = time.perf_counter()
    if len(traces) != len(chips):
        raise ProofError(f"{len(traces)} traces for {len(chips)} chips")
    mains, log_ns = [], []
    for chip, trace in zip(chips, traces, strict=True):
        main = np.ascontiguousarray(trace, dtype=np.uint32)
        width, n = main.shape
        log_n = n.bit_length() - 1
        if width != chip.air.main_width:
            raise ProofError(f"{chip.name}: trace has {width} columns, the AIR declares {chip.air.main_width}")
        if n != 1 << log_n or not 1 <= log_n <= MAX_LOG_N:
            raise ProofError(f"{chip.name}: trace length {n} is not a power of two in [2, 2^{MAX_LOG_N}]")
        if chip.fixed_height and log_n != chip.air.log_trace_length(public):
            raise ProofError(f"{chip.name}: trace length {n} is not 2^{chip.air.log_trace_length(public)}")
        if int(main.max(initial=0)) >= F.P:
            raise ProofError(f"{chip.name}: trace holds values that are not canonical field elements")
        mains.append(main)
        log_ns.append(log_n)
    groups = height_groups(log_ns)
    tr = start_transcript(chips, params, log_ns, public, public_tuples)
    blowup = 1 << params.log_blowup

    # 1. main traces
    main_c = []
    for log_n, members in groups:
        main_c.append(_commit([mains[i] for i in members], 1 << (log_n + params.log_blowup), bk))
        tr.absorb(b"main root", main_c[-1].tree.root)
    t0 = stats.add("commit", t0)

    # 2. interactions: α, β, aux traces, cumulative sums
    alpha, betas = lookup_challenges(tr, chips)
    auxes: list[np.ndarray | None] = []
    sums: list[np.ndarray | None] = []
    balance: dict[str, np.ndarray] = {}
    for chip, main in zip(chips, mains, strict=True):
        if not chip.interactions:
            auxes.append(None)
            sums.append(None)
            continue
        aux, total, by_bus = generate_aux(chip, main, alpha, betas)
        auxes.append(aux)
        sums.append(total)
        for bus, share in by_bus.items():
            balance[bus] = F.add(balance.get(bus, _ZERO4), share)
    if check:
        for chip, main, aux, c in zip(chips, mains, auxes, sums, strict=True):
            _check_chip(chip, main, aux, [alpha, c if c is not None else _ZERO4, *betas], public)
        for pt in public_tuples:
            share = public_sum([pt], alpha, betas)
            balance[pt.bus] = F.add(balance.get(pt.bus, _ZERO4), share)
        unbalanced = sorted(bus for bus, s in balance.items() if s.any())
        if unbalanced:
            raise ProofError(f"interactions do not balance on bus {', '.join(map(repr, unbalanced))}: some tuple "
                             "is sent more or less often than it is received")
    aux_c: list[_Committed | None] = []
    for log_n, members in groups:
        parts = [np.ascontiguousarray(a.transpose(0, 2, 1).reshape(-1, 1 << log_n))
                 for a in (auxes[i] for i in members) if a is not None]
        committed = _commit(parts, 1 << (log_n + params.log_blowup), bk) if parts else None
        aux_c.append(committed)
        if committed is not None:
            tr.absorb(b"aux root", committed.tree.root)
    for chip, c in zip(chips, sums, strict=True):
        if c is not None:
            tr.absorb_field(b"cumulative sum " + chip.name.encode(), c)
    t0 = stats.add("aux", t0)

    # 3. per-chip quotients, committed per group
    lam = tr.challenge_ext(b"composition")
    quot_c = []
    for gi, (log_n, members) in enumerate(groups):
        n, m = 1 << log_n, 1 << (log_n + params.log_blowup)
        main_off = _offsets([chips[i].air.main_width for i in members])
        aux_off = _offsets([4 * chips[i].aux_width for i in members])
        chunks_all = []
        ac = aux_c[gi]
        for j, i in enumerate(members):
            chip = chips[i]
            k = chip.quotient_chunks
            # Q has degree < k·n, so it is evaluated on the coset s·<ω_q> with q = n·2^ceil(log2 k) ≤ m only
            # (as Plonky3 does): every (m/q)-th LDE point, half or a quarter of the work for degree 3 or 2.
            log_q = log_n + (k - 1).bit_length()
            if log_q > log_n + params.log_blowup:
                raise ProofError(f"{chip.name}: degree {chip.max_degree} needs a quotient domain of 2^{log_q} "
                                 f"points, larger than the LDE (blowup {blowup})")
            q, step = 1 << log_q, m >> log_q
            next_row = q // n
            main_q = np.ascontiguousarray(main_c[gi].lde[main_off[j] : main_off[j + 1], ::step])
            aux_vals = _ext_vals(ac.lde[aux_off[j] : aux_off[j + 1], ::step]) if ac is not None else []
            builder = LdeBuilder(
                main=[Val(c, False) for c in main_q], main_next=[Val(np.roll(c, -next_row), False) for c in main_q],
                aux=aux_vals, aux_next=[Val(np.roll(v.v, -next_row, axis=0), True) for v in aux_vals],
                challenges=[Val(alpha, True), Val(sums[i] if sums[i] is not None else _ZERO4, True),
                            *(Val(x, True) for x in betas)],
                public=public, n=n, m=q, beta=lam,
            )
            eval_chip(chip, builder)
            q_coeffs = bk.coset_intt(np.ascontiguousarray(builder.quotient(ntt.domain(log_q, SHIFT)).T), SHIFT)
            if check and q_coeffs[:, k * n :].any():
                raise ProofError(f"{chip.name}: the constraints have a higher degree than max_degree = "
                                 f"{chip.max_degree} (boundary constraints must be of degree < max_degree)")
            chunks_all += [q_coeffs[:, c * n : (c + 1) * n] for c in range(k)]
        coeffs = np.concatenate(chunks_all, axis=0)
        lde = bk.coset_ntt(coeffs, SHIFT, m)
        quot_c.append(_Committed(coeffs, lde, merkle.commit(lde.T, bk)))
        tr.absorb(b"quotient root", quot_c[-1].tree.root)
    t0 = stats.add("quotient", t0)

    # 4. out-of-domain openings, per chip
    z = tr.challenge_ext(b"ood point")
    oods: list[ChipOod | None] = [None] * len(chips)
    group_ood = []
    for gi, (log_n, members) in enumerate(groups):
        zg = F.mul(z, np.uint32(F.root_of_unity(log_n)))
        main_z, main_zg = deep.evaluate_at(main_c[gi].coeffs, z, zg)
        ac = aux_c[gi]
        aux_z, aux_zg = deep.evaluate_at(ac.coeffs, z, zg) if ac is not None else (np.zeros((0, 4), np.uint32),) * 2
        quot_z, _ = deep.evaluate_at(quot_c[gi].coeffs, z, zg)
        group_ood.append((zg, main_z, main_zg, aux_z, aux_zg, quot_z))
        mo = _offsets([chips[i].air.main_width for i in members])
        ao = _offsets([4 * chips[i].aux_width for i in members])
        qo = _offsets([4 * chips[i].quotient_chunks for i in members])
        for j, i in enumerate(members):
            oods[i] = ChipOod(main_z[mo[j] : mo[j + 1]], main_zg[mo[j] : mo[j + 1]], aux_z[ao[j] : ao[j + 1]],
                              aux_zg[ao[j] : ao[j + 1]], quot_z[qo[j] : qo[j + 1]])
    if check:
        for i, (chip, o) in enumerate(zip(chips, oods, strict=True)):
            assert o is not None
            challenges = [alpha, sums[i] if sums[i] is not None else _ZERO4, *betas]
            if not quotient_matches(chip, o, 1 << log_ns[i], challenges, lam, z, public):
                raise ProofError(f"{chip.name}: the constraints have a higher degree than max_degree = "
                                 f"{chip.max_degree} (its quotient does not match them at a random point)")
    for chip, o in zip(chips, oods, strict=True):
        assert o is not None
        tr.absorb_field(b"ood " + chip.name.encode(),
                        np.concatenate([o.main_z, o.main_zg, o.aux_z, o.aux_zg, o.quotient_z]))
    t0 = stats.add("ood", t0)

    # 5. DEEP per group, one FRI over all of them
    deeps = []
    for gi, (log_n, _members) in enumerate(groups):
        m = 1 << (log_n + params.log_blowup)
        zg, main_z, main_zg, aux_z, aux_zg, quot_z = group_ood[gi]
        gamma = tr.challenge_ext(b"deep")
        mats = [c.lde for c in (main_c[gi], aux_c[gi], quot_c[gi]) if c is not None]
        n_all = sum(mat.shape[0] for mat in mats)
        coeffs = deep.coefficients(gamma, n_all, main_z.shape[0] + aux_z.shape[0])
        sums_lde = bk.combine_columns(mats, coeffs, m)
        s1_z, s2_zg = deep.sums_at(np.concatenate([main_z, aux_z, quot_z]), np.concatenate([main_zg, aux_zg]), coeffs)
        xs = ntt.domain(log_n + params.log_blowup, SHIFT)
        deeps.append(deep.deep_values(sums_lde, xs, z, zg, s1_z, s2_zg, bk.ext_batch_inv))
    heights = [h for h, _ in groups]
    mu = tr.challenge_ext(b"fri mix")
    fri_commit = fri_mixed.commit_phase(deeps, heights, params, mu, tr, bk)
    t0 = stats.add("fri", t0)

    # 6. grinding, then one set of query positions on the tallest domain (q mod m_g in group g's)
    nonce = tr.grind(params.grinding_bits)
    tr.absorb(b"pow", struct.pack("<Q", nonce))
    log_m0 = heights[0] + params.log_blowup
    indices = tr.challenge_indices(b"queries", params.num_queries, log_m0)
    group_proofs = []
    for gi, (log_n, _members) in enumerate(groups):
        local = [q % (1 << (log_n + params.log_blowup)) for q in indices]
        ac = aux_c[gi]
        aux_tree = ac.tree if ac is not None else None
        group_proofs.append(GroupProof(
            main_root=main_c[gi].tree.root, aux_root=aux_tree.root if aux_tree is not None else None,
            quotient_root=quot_c[gi].tree.root, main_open=Opening(*main_c[gi].tree.open(local)),
            aux_open=Opening(*aux_tree.open(local)) if aux_tree is not None else None,
            quotient_open=Opening(*quot_c[gi].tree.open(local)),
        ))
    arities, _ = fri_mixed.schedule(heights, params)
    fri_open = [Opening(*t.open(li)) for t, li in
                zip(fri_commit.trees, fri.query_indices_per_layer(indices, log_m0, arities), strict=True)]
    stats.add("queries", t0)
    return MultiProof(params, log_ns, group_proofs, sums, [o for o in oods if o is not None],
                      [t.root for t in fri_commit.trees], fri_commit.final, nonce, fri_open)
