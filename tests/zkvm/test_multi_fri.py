"""The mixed-height FRI: functions of different degrees, each on its own coset, in one FRI proof."""

import numpy as np
import pytest

from zkray.zkvm import field as F
from zkray.zkvm import fri, ntt
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.multi import fri_mixed
from zkray.zkvm.params import DEFAULT_PARAMS
from zkray.zkvm.transcript import Transcript


def evaluations(log_n, degree, seed):
    """An extension-valued function of the given degree on s·<ω_(4n)> (natural order), as (4n, 4)."""
    rng = np.random.default_rng(seed)
    coeffs = rng.integers(0, F.P, (4, degree)).astype(np.uint32)
    return np.ascontiguousarray(ntt.coset_ntt(coeffs, F.GENERATOR, 1 << (log_n + DEFAULT_PARAMS.log_blowup)).T)


def prove_and_verify(heights, funcs):
    params = DEFAULT_PARAMS
    tp = Transcript(b"test")
    commit = fri_mixed.commit_phase(funcs, heights, params, tp.challenge_ext(b"fri mix"), tp)
    log_m0 = heights[0] + params.log_blowup
    indices = tp.challenge_indices(b"queries", params.num_queries, log_m0)
    arities, _ = fri_mixed.schedule(heights, params)
    openings = [t.open(li) for t, li in zip(commit.trees, fri.query_indices_per_layer(indices, log_m0, arities),
                                            strict=True)]
    tv = Transcript(b"test")
    mu = tv.challenge_ext(b"fri mix")
    betas = []
    for k, tree in enumerate(commit.trees):
        tv.absorb(b"fri root %d" % k, tree.root)
        betas.append(tv.challenge_ext(b"fri fold %d" % k))
    tv.absorb_field(b"fri final", commit.final)
    assert tv.challenge_indices(b"queries", params.num_queries, log_m0) == indices
    deep_at = [f[[q % f.shape[0] for q in indices]] for f in funcs]
    fri_mixed.verify_queries([t.root for t in commit.trees], commit.final, betas, indices, deep_at, heights, params,
                             mu, openings)


@pytest.mark.parametrize("heights", [[9], [9, 7], [9, 8, 4], [10, 6, 3, 2], [5, 1]])
def test_low_degree_functions_of_several_heights_pass(heights):
    prove_and_verify(heights, [evaluations(h, 1 << h, seed=h) for h in heights])


def test_schedule_meets_every_height():
    arities, final = fri_mixed.schedule([16, 14, 8], DEFAULT_PARAMS)
    assert final == 4 and sum(arities) == 12 and max(arities) <= DEFAULT_PARAMS.fri_log_arity
    reached = set(np.cumsum([0, *arities]).tolist())
    assert {16 - 14, 16 - 8} <= reached  # the layers where the shorter groups join
    assert fri_mixed.schedule([3], DEFAULT_PARAMS) == ([], 3)
    assert fri_mixed.schedule([10, 2], DEFAULT_PARAMS)[1] == 2


@pytest.mark.parametrize("bad", [0, 1, 2])
def test_a_too_high_degree_in_any_group_is_rejected(bad):
    heights = [9, 7, 5]
    funcs = [evaluations(h, (1 << h) * (2 if g == bad else 1), seed=g) for g, h in enumerate(heights)]
    with pytest.raises(VerificationError, match="FRI"):
        prove_and_verify(heights, funcs)
