"""Segment proofs: every segment of a multi-segment run proves and verifies, and the proof is bound to every
public part of its claim (start/end registers, the memory words' before/after values, the end pc, the
halted flag, the exit code, the input and journal chunks)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from test_rv32im_air_programs import CLASSES, build

from zkray.zkvm.errors import VerificationError
from zkray.zkvm.rv32im.isa import mnemonic
from zkray.zkvm.rv32im.segment import execute_segment, plan_segments
from zkray.zkvm.rv32im_air import SEGMENT_CHIPS, SegmentClaim, prove_segment, verify_segment

GUEST = build(0, length=64)  # executes instructions of every class (asserted below)
N = 32  # cycles per segment: three segments, boundaries inside the body


@pytest.fixture(scope="module")
def proved():
    plan = plan_segments(GUEST, b"", segment_cycles=N)
    out = []
    for i in range(plan.segments):
        run = execute_segment(GUEST, b"", i, segment_cycles=N)
        claim, proof = prove_segment(GUEST, run)
        out.append((run, claim, proof))
    return out


def test_every_segment_of_a_multi_segment_run_proves_and_verifies(proved):
    assert len(proved) == 3
    names = set()
    for run, claim, proof in proved:
        verify_segment(GUEST, claim, proof)
        assert claim.halted == run.halted and claim.memory == run.memory
        names |= {mnemonic(int(w)) for w in run.trace.insn}
    assert all(names & set(members) for members in CLASSES.values())
    assert [c.halted for _, c, _ in proved] == [False, False, True]
    # a power-of-two segment fills its CPU rows exactly (no padding row: the final row is the last cycle)
    cpu = [c.name for c in SEGMENT_CHIPS].index("rv32im-cpu")
    assert [(run.cycles, proof.log_ns[cpu]) for run, _, proof in proved[:2]] == [(N, N.bit_length() - 1)] * 2
    for (_, a, _), (_, b, _) in itertools.pairwise(proved):
        assert a.end == b.start


def _regs(regs: tuple[int, ...], i: int, delta: int) -> tuple[int, ...]:
    return (*regs[:i], (regs[i] + delta) % (1 << 32), *regs[i + 1:])


def _forgeries(claim: SegmentClaim) -> dict[str, SegmentClaim]:
    r = dataclasses.replace
    mem = list(claim.memory)
    a, before, after = mem[0]
    out = {
        "before word": r(claim, memory=tuple([(a, before ^ 1, after), *mem[1:]])),
        "after word": r(claim, memory=tuple([(a, before, after ^ 0x100), *mem[1:]])),
        "a word left out": r(claim, memory=tuple(mem[1:])),
        "an extra word": r(claim, memory=tuple(sorted([*mem, (0x3_0000, 0, 0)]))),
        "start register": r(claim, start=r(claim.start, registers=_regs(claim.start.registers, 5, 1))),
        "end register": r(claim, end=r(claim.end, registers=_regs(claim.end.registers, 31, 4))),
        "end pc": r(claim, end=r(claim.end, pc=claim.end.pc + 4)),
        "start pc": r(claim, start=r(claim.start, pc=claim.start.pc + 4)),
        "halted flag": r(claim, halted=not claim.halted, exit_code=0),
    }
    if claim.halted:
        out["exit code"] = r(claim, exit_code=claim.exit_code ^ 1)
    return out


@pytest.mark.parametrize("segment", [1, 2])
def test_a_changed_claim_is_rejected(proved, segment):
    _, claim, proof = proved[segment]
    for what, bad in _forgeries(claim).items():
        try:
            verify_segment(GUEST, bad, proof)
        except VerificationError as e:  # the public tuples no longer match what the proof's chips sent
            assert "interactions do not balance" in str(e), what
        else:
            pytest.fail(f"a claim with another {what} verified")


def test_a_segment_proof_does_not_verify_as_another_segment(proved):
    _, claim, proof = proved[1]
    _, other, _ = proved[0]
    with pytest.raises(VerificationError):
        verify_segment(GUEST, other, proof)
    with pytest.raises(VerificationError):
        verify_segment(build(8, length=64), claim, proof)  # another program


def test_malformed_claims_are_refused_before_the_proof_is_read(proved):
    _, claim, proof = proved[1]
    r = dataclasses.replace
    for bad, why in ((r(claim, start=r(claim.start, registers=(1, *claim.start.registers[1:]))), "x0 = 0"),
                     (r(claim, memory=tuple(reversed(claim.memory))), "ascending"),
                     (r(claim, end=r(claim.end, input_pos=3)), "input chunk"),
                     (r(claim, journal_chunk=b"x"), "journal chunk"),
                     (r(claim, input_chunk=b"x", end=r(claim.end, input_pos=claim.end.input_pos + 1)),
                      "past the input"),
                     (r(claim, input_len=1 << 30), "input length"),
                     (r(claim, exit_code=7), "0 unless halted"),
                     (r(claim, end=r(claim.end, pc=claim.end.pc + 2)), "aligned")):
        with pytest.raises(VerificationError, match=why):
            verify_segment(GUEST, bad, proof)
