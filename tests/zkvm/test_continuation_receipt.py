"""Composite receipts of generated guests: a multi-segment run proves and verifies; removed, repeated,
reordered and foreign segments, a forged journal, another ELF or image id, segments stating different input
lengths and an input of another length are all rejected."""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest
from test_rv32im_air_programs import BASE, CODE, DATA, WINDOW, li, loop

from zkray.zkvm.continuation import compose, decode_composite, prove_segment_receipt, verify_composite
from zkray.zkvm.continuation.codec import decode_segment, encode_composite, split_composite
from zkray.zkvm.elf import PF_R, PF_W, PF_X, write_elf
from zkray.zkvm.errors import ReceiptError, VerificationError
from zkray.zkvm.params import DEFAULT_PARAMS
from zkray.zkvm.receipt import Receipt
from zkray.zkvm.rv32im import execute, load_elf
from zkray.zkvm.rv32im.image import image_id
from zkray.zkvm.rv32im.isa import encode
from zkray.zkvm.rv32im.segment import plan_segments

CYCLES = 1 << 10
ITERATIONS = 220  # 4 + 9·220 + 4 cycles = 1988: two segments of 2^10


@functools.cache
def segments(iterations: int = ITERATIONS, cycles: int = CYCLES) -> tuple[bytes, tuple[bytes, ...]]:
    """(ELF, encoded segment receipts) of loop(iterations), proven once per test session."""
    elf = loop(iterations)
    n = plan_segments(elf, b"", segment_cycles=cycles).segments
    return elf, tuple(prove_segment_receipt(elf, b"", i, cycles) for i in range(n))


@functools.cache
def receipt() -> Receipt:
    elf, parts = segments()
    return compose(elf, list(parts))


def _verify(elf: bytes, r: Receipt) -> None:
    verify_composite(load_elf(elf), r.image_id, r.journal, r.seal, exit_code=None)


def test_a_multi_segment_run_proves_and_verifies():
    elf, parts = segments()
    session = execute(elf, trace=False)
    r = receipt()
    assert len(parts) == 2 and r.image_id == session.image_id and r.journal == session.journal == b""
    summary = verify_composite(load_elf(elf), r.image_id, r.journal, r.seal, exit_code=session.exit_code)
    assert summary.segments == 2 and summary.exit_code == session.exit_code and summary.input_read == b""
    r.verify(program=elf, exit_code=None)
    Receipt.decode(r.encode()).verify(r.image_id, program=elf, exit_code=session.exit_code)


def test_the_exit_code_is_checked():
    elf, _ = segments()
    r = receipt()
    code = execute(elf, trace=False).exit_code
    assert code != 0
    with pytest.raises(VerificationError, match=f"exited with code {code}, expected 0"):
        r.verify(program=elf)
    with pytest.raises(VerificationError, match="exited with code"):
        r.verify(program=elf, exit_code=code + 1)


def test_a_removed_segment_is_rejected():
    elf, parts = segments()
    with pytest.raises(VerificationError, match="does not halt"):
        compose(elf, list(parts[:1]))
    with pytest.raises(VerificationError, match="segment 0 does not start at the image state"):
        compose(elf, list(parts[1:]))


def test_reordered_and_repeated_segments_are_rejected():
    elf, parts = segments()
    for bad in ([parts[1], parts[0]], [parts[0], parts[0], parts[1]], [parts[0], parts[1], parts[1]]):
        with pytest.raises(VerificationError):
            compose(elf, list(bad))
    with pytest.raises(VerificationError, match="segment 1 does not start at segment 0's end"):
        compose(elf, [parts[0], parts[0], parts[1]])


def test_a_segment_from_another_run_is_rejected():
    elf, parts = segments()
    _, other = segments(ITERATIONS + 60)  # same code shape, another loop bound: 3 segments
    assert len(other) == 3
    with pytest.raises(VerificationError, match="segment 1 does not start at segment 0's end"):
        compose(elf, [parts[0], other[2]])
    # the seal checked directly, bypassing compose: the verifier rejects the same forgery
    forged = Receipt(image_id(load_elf(elf)), b"", encode_composite([parts[0], other[2]]))
    with pytest.raises(VerificationError, match="does not start"):
        _verify(elf, forged)


def test_a_forged_journal_is_rejected():
    elf, _ = segments()
    r = receipt()
    with pytest.raises(VerificationError, match="journal"):
        _verify(elf, Receipt(r.image_id, b"\x01\x00\x00\x00", r.seal))


def test_never_verifies_under_another_elf_or_image_id():
    elf, _ = segments()
    other_elf = loop(ITERATIONS + 1)
    r = receipt()
    with pytest.raises(VerificationError, match="the ELF given has image"):
        r.verify(program=other_elf, exit_code=None)
    with pytest.raises(VerificationError, match="expected"):
        r.verify(image_id(load_elf(other_elf)), program=elf, exit_code=None)
    # the seal relabelled with the other ELF's image id: its chain cannot start at that image
    relabelled = Receipt(image_id(load_elf(other_elf)), r.journal, r.seal)
    with pytest.raises(VerificationError, match="image state"):
        relabelled.verify(program=other_elf, exit_code=None)
    with pytest.raises(VerificationError, match="pass program="):
        r.verify()


def test_a_claim_edited_after_proving_fails_its_stark():
    """A chain-consistent edit (a register the next segment never reads back) still fails the STARK."""
    elf, parts = segments()
    last = decode_segment(parts[-1], DEFAULT_PARAMS)
    regs = list(last.claim.end.registers)
    regs[20] ^= 1
    end = type(last.claim.end)(last.claim.end.pc, tuple(regs), last.claim.end.input_pos, last.claim.end.journal_len)
    from zkray.zkvm.continuation.codec import SegmentReceipt, encode_segment

    forged = encode_segment(SegmentReceipt(replace(last.claim, end=end), last.proof, last.siblings))
    r = compose(elf, [*parts[:-1], forged])  # the chain still holds: nothing follows the halting segment
    with pytest.raises(VerificationError, match="segment 1 of 2"):
        _verify(elf, r)


def test_the_seal_frames_its_segments():
    _, parts = segments()
    seal = receipt().seal
    assert split_composite(seal) == list(parts)
    assert len(decode_composite(seal, DEFAULT_PARAMS)) == 2
    with pytest.raises(ReceiptError):
        decode_composite(encode_composite(list(parts))[:-1], DEFAULT_PARAMS)
    with pytest.raises(ValueError):
        encode_composite([])


# --- the input length --------------------------------------------------------------------------------------

def _read_then_loop(iterations: int = 600) -> bytes:
    """read(0, DATA, 4), `iterations` turns of a two-instruction loop, write(1, DATA, 4), exit(0): the read
    lies in segment 0 and the rest of the run does not depend on the input's length past 4 bytes."""
    words = [*li(BASE, DATA), encode("addi", rd=10, rs1=0, imm=0), encode("addi", rd=11, rs1=BASE, imm=0),
             encode("addi", rd=12, rs1=0, imm=4), encode("addi", rd=17, rs1=0, imm=63), encode("ecall"),
             *li(8, iterations), encode("addi", rd=1, rs1=1, imm=1), encode("bne", rs1=1, rs2=8, imm=-4),
             encode("addi", rd=10, rs1=0, imm=1), encode("addi", rd=11, rs1=BASE, imm=0),
             encode("addi", rd=12, rs1=0, imm=4), encode("addi", rd=17, rs1=0, imm=64), encode("ecall"),
             encode("addi", rd=10, rs1=0, imm=0), encode("addi", rd=17, rs1=0, imm=93), encode("ecall")]
    code = b"".join(w.to_bytes(4, "little") for w in words)
    return write_elf(CODE, [(CODE, code, PF_R | PF_X), (DATA, bytes(WINDOW), PF_R | PF_W)])


@functools.cache
def reading_segments(data: bytes) -> tuple[bytes, ...]:
    elf = _read_then_loop()
    n = plan_segments(elf, data, segment_cycles=CYCLES).segments
    return tuple(prove_segment_receipt(elf, data, i, CYCLES) for i in range(n))


def test_the_input_length_is_stated_and_checked():
    elf, data = _read_then_loop(), b"abcd"
    parts = reading_segments(data)
    assert len(parts) == 2
    claims = [decode_segment(p, DEFAULT_PARAMS).claim for p in parts]
    assert [c.input_len for c in claims] == [4, 4] and claims[0].input_chunk == data
    r = compose(elf, list(parts))
    assert r.journal == data
    r.verify(program=elf, input=data)
    summary = verify_composite(load_elf(elf), r.image_id, r.journal, r.seal)
    assert (summary.input_len, summary.input_read) == (4, data)
    # the consumed bytes are a prefix of a longer input, but the run was on a 4-byte input
    for other in (data + b"XY", data[:3]):
        with pytest.raises(VerificationError, match=f"input of 4 bytes, the input given has {len(other)}"):
            r.verify(program=elf, input=other)


def test_segments_stating_different_input_lengths_are_rejected():
    """Two honest runs on b"abcd" and b"abcdXY" pass through the same states (the guest reads 4 bytes),
    so their segments chain by digest and each STARK verifies; only the input length tells them apart."""
    elf = _read_then_loop()
    short, long = reading_segments(b"abcd"), reading_segments(b"abcdXY")
    for a, b in zip(short, long, strict=True):  # the same statements but for the input length
        ca, cb = decode_segment(a, DEFAULT_PARAMS).claim, decode_segment(b, DEFAULT_PARAMS).claim
        assert (ca.input_len, cb.input_len) == (4, 6) and replace(cb, input_len=4) == ca
    compose(elf, list(long)).verify(program=elf, input=b"abcdXY")
    with pytest.raises(VerificationError, match="segment 1 states an input of 6 bytes, segment 0 one of 4"):
        compose(elf, [short[0], long[1]])
    forged = Receipt(image_id(load_elf(elf)), b"abcd", encode_composite([short[0], long[1]]))
    with pytest.raises(VerificationError, match="segment 1 states an input of 6 bytes"):
        forged.verify(program=elf)
