"""Multi-chip soundness: a witness pushed past the prover's own check (check=False) never verifies."""

import dataclasses

import numpy as np
import pytest
from test_multi_chips import SENDER, SQUARES, TABLE, LimbsAir, SquareTableAir, random_xs, square_traces

from zkray.zkvm import ext as E
from zkray.zkvm import field as F
from zkray.zkvm.errors import ProofError, VerificationError
from zkray.zkvm.multi import Chip, Interaction, decode, encode, prove_multi, verify_multi
from zkray.zkvm.multi import prover as multi_prover
from zkray.zkvm.multi.protocol import lookup_tuples, security_bits
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams


def forced(traces, chips=SQUARES, **kw):
    """A proof the prover would refuse: made with check=False, as a cheating prover would."""
    return prove_multi(chips, traces, check=False, **kw)


def test_sent_tuple_missing_from_the_receiver_is_rejected():
    xs = random_xs(10)
    xs[3] = 70  # (70, 4900) is not in the 64-row table
    traces = square_traces(xs)
    with pytest.raises(ProofError, match="do not balance on bus 'square'"):
        prove_multi(SQUARES, traces)
    with pytest.raises(VerificationError, match="do not add up"):
        verify_multi(SQUARES, forced(traces))


def test_sent_tuple_that_is_not_a_square_is_rejected():
    xs = random_xs(11)
    traces = square_traces(xs)
    traces[0][1, 2] = (int(traces[0][1, 2]) + 1) % F.P  # y ≠ x·x: breaks the sender and the lookup
    with pytest.raises(ProofError):
        prove_multi(SQUARES, traces)
    with pytest.raises(VerificationError):
        verify_multi(SQUARES, forced(traces))


@pytest.mark.parametrize("delta", [1, -1, F.P - 2])
def test_wrong_multiplicity_is_rejected(delta):
    traces = square_traces(random_xs(12))
    traces[1][1, 9] = (int(traces[1][1, 9]) + delta) % F.P
    with pytest.raises(ProofError, match="do not balance"):
        prove_multi(SQUARES, traces)
    with pytest.raises(VerificationError):
        verify_multi(SQUARES, forced(traces))


def test_chip_breaking_its_own_constraint_with_balanced_bus_is_rejected():
    xs = random_xs(13, high=60)
    traces = square_traces(xs)
    traces[1][:, 63] = [5, 0]  # x jumps from 62 to 5 (multiplicity 0): the bus still balances
    with pytest.raises(ProofError, match=r"'x steps by 1' fails at row 62"):
        prove_multi(SQUARES, traces)
    with pytest.raises(VerificationError, match="test-square-table: constraints do not hold"):
        verify_multi(SQUARES, forced(traces))


def test_tampered_cumulative_sum_in_the_seal_is_rejected():
    proof = prove_multi(SQUARES, square_traces(random_xs(14)))
    delta = np.array([1, 2, 3, 4], dtype=np.uint32)
    alone = dataclasses.replace(proof, cumulative_sums=[F.add(proof.cumulative_sums[0], delta),
                                                        proof.cumulative_sums[1]])
    with pytest.raises(VerificationError, match="do not add up"):
        verify_multi(SQUARES, alone)
    # Moving a share from one chip to the other keeps the total at zero; the running sums then disagree.
    moved = dataclasses.replace(proof, cumulative_sums=[F.add(proof.cumulative_sums[0], delta),
                                                        F.sub(proof.cumulative_sums[1], delta)])
    with pytest.raises(VerificationError, match="constraints do not hold"):
        verify_multi(SQUARES, decode(encode(moved), SQUARES, DEFAULT_PARAMS))


def test_prover_lying_about_cumulative_sums_is_rejected(monkeypatch):
    # A cheating prover hides an unbalanced tuple: it shifts the sender's claimed share so the total is
    # zero, and builds that chip's running sum to end at the claimed value.
    xs = random_xs(15)
    xs[0] = 70
    traces = square_traces(xs)
    honest = multi_prover.generate_aux

    def lying(chip, main, alpha, beta):
        aux, total, by_bus = honest(chip, main, alpha, beta)
        if chip is SENDER:
            _, table_total, _ = honest(TABLE, traces[1], alpha, beta)
            fake = F.neg(table_total)
            n = main.shape[1]
            shift = E.mul_base(np.broadcast_to(F.mul(F.sub(fake, total), np.uint32(pow(n, F.P - 2, F.P))), (n, 4)),
                               np.arange(1, n + 1, dtype=np.uint32))
            aux[-1] = F.sub(aux[-1], shift)  # S_i = prefix_i − (i+1)·C'/n: S' − S steps match C' on every row…
            return aux, fake, by_bus
        return aux, total, by_bus

    monkeypatch.setattr(multi_prover, "generate_aux", lying)
    proof = forced(traces)
    assert not F.add(proof.cumulative_sums[0], proof.cumulative_sums[1]).any()  # …and the total is zero
    with pytest.raises(VerificationError, match="test-square-sender: constraints do not hold"):
        verify_multi(SQUARES, proof)  # …but the cyclic step from the last row to the first does not


def test_tampered_inverse_column_is_rejected(monkeypatch):
    honest = multi_prover.generate_aux

    def tampered(chip, main, alpha, beta):
        aux, total, by_bus = honest(chip, main, alpha, beta)
        if chip is TABLE:
            aux[0, 17, 1] = (int(aux[0, 17, 1]) + 1) % F.P
        return aux, total, by_bus

    monkeypatch.setattr(multi_prover, "generate_aux", tampered)
    traces = square_traces(random_xs(16))
    with pytest.raises(ProofError, match="inverses"):
        prove_multi(SQUARES, traces)
    with pytest.raises(VerificationError):
        verify_multi(SQUARES, forced(traces))


def test_proof_does_not_verify_against_other_chips():
    proof = prove_multi(SQUARES, square_traces(random_xs(17)))
    cubes = Chip(SquareTableAir(), (Interaction.receive("square", lambda r: [r[0], r[0] * r[0] * r[0]],
                                                        lambda r: r[1]),), fixed_height=True)
    with pytest.raises(VerificationError):
        verify_multi([SENDER, cubes], proof)  # same AIR, another interaction: another fingerprint
    with pytest.raises(VerificationError):
        verify_multi([TABLE, SENDER], dataclasses.replace(proof, log_ns=proof.log_ns[::-1]))


def test_heights_are_bound():
    traces = square_traces(random_xs(18), table_rows=128)
    with pytest.raises(ProofError, match="not 2\\^6"):
        prove_multi(SQUARES, traces)  # the table's height is fixed by the statement
    proof = prove_multi(SQUARES, square_traces(random_xs(18)))
    with pytest.raises(VerificationError, match="2\\^7 rows"):
        verify_multi(SQUARES, dataclasses.replace(proof, log_ns=[4, 7]))
    with pytest.raises(VerificationError):
        verify_multi(SQUARES, dataclasses.replace(proof, log_ns=[5, 6]))  # the sender's height is in the transcript


def test_weak_parameters_are_refused():
    weak = StarkParams(num_queries=20)
    proof = prove_multi(SQUARES, square_traces(random_xs(19)), params=weak)
    with pytest.raises(VerificationError, match="below 100"):
        verify_multi(SQUARES, proof)


def test_security_counts_every_group_and_the_lookup_error():
    from test_multi_chips import COUNTER, limbs_chip

    assert security_bits(DEFAULT_PARAMS, SQUARES, [4, 6]) == 104  # small: the query term binds
    assert 100 < security_bits(DEFAULT_PARAMS, [SENDER], [20]) < 101  # one 2^22 LDE domain: the field term
    assert security_bits(DEFAULT_PARAMS, [SENDER, TABLE], [20, 20]) > 100  # one group
    assert security_bits(DEFAULT_PARAMS, [SENDER, TABLE, COUNTER], [20, 19, 18]) < 100  # 2^22 + 2^21 + 2^20 points
    many = [limbs_chip(f"limbs-{i}", 20) for i in range(16)]  # 2^25 tuples on the byte bus
    assert security_bits(DEFAULT_PARAMS, many, [20] * 16) < 100


def test_malformed_proof_objects_are_refused():
    # verify_multi also takes proof objects built in memory: their shapes and values are checked too.
    proof = prove_multi(SQUARES, square_traces(random_xs(21)))
    for bad in (
        dataclasses.replace(proof, fri_final=np.zeros((32, 4), np.uint32)),  # a higher-degree final polynomial
        dataclasses.replace(proof, fri_roots=proof.fri_roots[:-1]),
        dataclasses.replace(proof, groups=proof.groups[:1]),
        dataclasses.replace(proof, cumulative_sums=[proof.cumulative_sums[0] + np.uint32(F.P),
                                                    proof.cumulative_sums[1]]),
        dataclasses.replace(proof, log_ns=[0, 6]),
        dataclasses.replace(proof, ood=proof.ood[:1]),
    ):
        with pytest.raises(VerificationError):
            verify_multi(SQUARES, bad)
    verify_multi(SQUARES, proof)


class PairsAir(LimbsAir):
    """LimbsAir declared at degree 3: its two degree-1 byte sends then share one batched LogUp column."""

    max_degree = 3


def pairs_chip(name, log_n):
    return Chip(PairsAir(name, log_n), (Interaction.send("byte", lambda r: [r[0]]),
                                        Interaction.send("byte", lambda r: [r[1]])))


def test_batches_stay_within_the_chip_degree():
    from test_multi_chips import limbs_chip

    assert SENDER.batches == ((0,),) and SENDER.aux_width == 2
    assert limbs_chip("l", 4).batches == ((0,), (1,))  # degree 2: a pair would need degree 3
    assert pairs_chip("p", 4).batches == ((0, 1),) and pairs_chip("p", 4).aux_width == 2
    assert Chip.batch_degree([(1, 1), (1, 1)]) == 3 and Chip.batch_degree([(2, 1), (1, 0)]) == 4


def test_batched_column_moving_a_fraction_between_rows_is_rejected(monkeypatch):
    # The batch column h must equal Σ ±m/(α − fp) on every row, not merely in total: a prover moving δ
    # from one row's h to another keeps C and rebuilds a consistent running sum, and is still rejected.
    from test_multi_chips import BYTES, byte_table_trace, limbs_trace

    chip = pairs_chip("test-pairs", 4)
    chips = [chip, BYTES]
    words = limbs_trace(np.random.default_rng(30).integers(0, 1 << 16, 16))
    traces = [words, byte_table_trace(words)]
    verify_multi(chips, prove_multi(chips, traces))
    honest = multi_prover.generate_aux

    def moved(c, main, alpha, betas):
        aux, total, by_bus = honest(c, main, alpha, betas)
        if c is chip:
            delta = np.array([5, 6, 7, 8], dtype=np.uint32)
            aux[0, 3] = F.add(aux[0, 3], delta)
            aux[0, 5] = F.sub(aux[0, 5], delta)
            aux[1, 3:5] = F.add(aux[1, 3:5], delta)  # S follows h: every running-sum step still holds
        return aux, total, by_bus

    monkeypatch.setattr(multi_prover, "generate_aux", moved)
    with pytest.raises(ProofError, match=r"byte batch 0 \(interactions \[0, 1\]\).* fails at row 3"):
        prove_multi(chips, traces)
    proof = forced(traces, chips)
    assert not F.add(proof.cumulative_sums[0], proof.cumulative_sums[1]).any()  # the bus still balances
    with pytest.raises(VerificationError, match="test-pairs: constraints do not hold"):
        verify_multi(chips, proof)


def test_security_accepts_a_2_16_cycle_zkvm_segment():
    # The RV32IM chips at a 2^16-cycle segment: CPU and byte table 2^16 rows, shift/mul/div 2^13, small
    # tables. N ≈ 2^21.4 tuples (33 CPU interactions per row), 2N/|F_ext| → ~101 bits. The old accounting
    # N·a (a = 13, β powers) gave 98.5 and refused it; 2^18 cycles stays refused.
    from zkray.zkvm.rv32im_air.statement import CHIPS

    heights = {"rv32im-bytes": 16, "rv32im-cpu": 16, "rv32im-shift": 13, "rv32im-mul": 13, "rv32im-div": 13}
    log_ns = [heights.get(c.name, 5) for c in CHIPS]
    bits = security_bits(DEFAULT_PARAMS, CHIPS, log_ns, public_tuples=64)
    assert 100 < bits < 102
    old = 4 * np.log2(F.P) - np.log2(lookup_tuples(CHIPS, log_ns, 64) * 13)
    assert old < 100
    assert security_bits(DEFAULT_PARAMS, CHIPS, [18 if h > 5 else 5 for h in log_ns], 64) < 100


def test_security_of_a_single_2_15_row_chip_with_many_wide_interactions():
    wide = Chip(LimbsAir("test-wide", 15), tuple(Interaction.send("wide", lambda r: [r[0]] * 13) for _ in range(33)))
    assert security_bits(DEFAULT_PARAMS, [wide], [15]) > 100
    assert security_bits(DEFAULT_PARAMS, [wide], [16]) > 100
    assert security_bits(DEFAULT_PARAMS, [wide] * 8, [16] * 8) < 100  # 2^24 tuples: the LogUp term binds


class UnderDeclaredAir(LimbsAir):
    """Declares degree 2 but constrains its column to {0, 1, 2} with the degree-3 b·(b − 1)·(b − 2)."""

    main_width = 1

    def eval(self, b):
        x = b.main[0]
        b.assert_zero("b in {0, 1, 2} (degree 3)", x * (x - 1) * (x - 2))


def test_constraints_above_the_declared_degree_are_refused():
    # The quotient of a degree-2 chip is computed on an n-point coset: a degree-3 constraint makes it wrong,
    # which the prover's own out-of-domain check names, and the verifier rejects.
    chip = Chip(UnderDeclaredAir("test-under-declared", 4))
    assert chip.max_degree == 2 and chip.quotient_chunks == 1
    traces = [np.random.default_rng(31).integers(0, 3, (1, 16)).astype(np.uint32)]
    with pytest.raises(ProofError, match="higher degree than max_degree = 2"):
        prove_multi([chip], traces)
    with pytest.raises(VerificationError, match="test-under-declared: constraints do not hold"):
        verify_multi([chip], forced(traces, [chip]))
