"""ECALL read and write in the AIR: every bundled guest proves and verifies with its input and journal bound
to the statement, and forged io is rejected (each forgery proved with check=False, the verifier's reason
named): a journal byte that is not the byte in memory, an input byte other than the claimed one, a read
count in a0 above what the guest asked for, a short read in the middle of the input (a false EOF), and a
count that is not the number of bytes moved."""

from __future__ import annotations

import dataclasses
import hashlib
import struct

import numpy as np
import pytest

from zkray.zkvm import field as F
from zkray.zkvm.air import DebugBuilder
from zkray.zkvm.elf import PF_R, PF_W, PF_X, write_elf
from zkray.zkvm.errors import ProofError, VerificationError
from zkray.zkvm.multi import prove_multi
from zkray.zkvm.rv32im import execute, load_elf
from zkray.zkvm.rv32im.isa import encode
from zkray.zkvm.rv32im.segment import execute_segment, plan_segments
from zkray.zkvm.rv32im.trace import E_RESULT, RD_VAL
from zkray.zkvm.rv32im_air import cpu as C
from zkray.zkvm.rv32im_air import io as IO
from zkray.zkvm.rv32im_air import prove_elf, prove_segment, verify_elf, verify_segment
from zkray.zkvm.rv32im_air.segment import SEGMENT_CHIPS, claim_of, public_inputs, public_tuples
from zkray.zkvm.rv32im_air.witness import byte_table, generate


def _u32s(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}I", *values)


def _elf(name: str) -> bytes:
    return open(f"guest/{name}.elf", "rb").read()


@pytest.mark.parametrize(("name", "data"), [
    ("fib", _u32s(9)),
    ("fib_input_initial", _u32s(12, 0xFFFF_FFF0, 0x8000_0000)),
    ("sort", _u32s(7, 0xFFFF_FFFF, 0, 3, 3, 0x8000_0000)),
    ("rv32im_all", _u32s(0x8000_0000, 0xFFFF_FFFF)),
])
def test_bundled_guests_prove_and_verify_as_one_segment(name: str, data: bytes) -> None:
    elf = _elf(name)
    session, claim, proof = prove_elf(elf, data)
    assert (claim.journal_chunk, claim.input_chunk, claim.exit_code) == (session.journal, data[:session.input_read],
                                                                        session.exit_code)
    assert claim.journal_chunk and claim.halted
    verify_elf(elf, claim, proof)
    forged = bytes([claim.journal_chunk[0] ^ 1]) + claim.journal_chunk[1:]
    with pytest.raises(VerificationError, match="interactions do not balance"):
        verify_elf(elf, dataclasses.replace(claim, journal_chunk=forged), proof)


def test_sha256_proves_in_segments_and_the_journal_is_the_hash() -> None:
    elf, data, n = _elf("sha256"), b"zkray", 1 << 12  # 5,6xx cycles: one SHA-256 block
    plan = plan_segments(elf, data, segment_cycles=n)
    assert plan.segments == 2
    claims = []
    for i in range(plan.segments):
        claim, proof = prove_segment(elf, execute_segment(elf, data, i, segment_cycles=n))
        verify_segment(elf, claim, proof)
        claims.append(claim)
    assert claims[0].input_chunk == data and claims[1].input_chunk == b""  # read once, then 0 at the end
    assert b"".join(c.journal_chunk for c in claims) == hashlib.sha256(data).digest() == plan.journal
    assert claims[0].end == claims[1].start and claims[1].halted


# --- forgeries --------------------------------------------------------------------------------------------

BUF = 0x2_0000


def _reader(length: int) -> bytes:
    """read(0, BUF, length) → a0 = count; write(1, BUF, 4); exit(count)."""
    li = lambda rd, v: encode("addi", rd=rd, rs1=0, imm=v)  # noqa: E731
    words = [encode("lui", rd=31, imm=BUF >> 12), li(10, 0), encode("addi", rd=11, rs1=31, imm=0), li(12, length),
             li(17, 63), encode("ecall"), encode("addi", rd=9, rs1=10, imm=0),
             li(10, 1), encode("addi", rd=11, rs1=31, imm=0), li(12, 4), li(17, 64), encode("ecall"),
             encode("addi", rd=10, rs1=9, imm=0), li(17, 93), encode("ecall")]
    code = b"".join(w.to_bytes(4, "little") for w in words)
    return write_elf(0x1_0000, [(0x1_0000, code, PF_R | PF_X), (BUF, bytes(16), PF_R | PF_W)])


def _run(elf: bytes, data: bytes):
    return execute_segment(elf, data, 0, segment_cycles=1 << 5)


def _prove_forged(elf: bytes, claim, traces):
    program = load_elf(elf)
    traces[0] = byte_table(SEGMENT_CHIPS, traces)
    return prove_multi(SEGMENT_CHIPS, traces, public_inputs(claim), public_tuples=public_tuples(program, claim),
                       check=False)


def _violations(chip, trace, claim) -> set[str]:
    builder = DebugBuilder(chip.air, trace, None, [], public_inputs(claim))
    chip.air.eval(builder)
    return {v.constraint for v in builder.violations}


def test_the_reader_guest_proves_honestly() -> None:
    """Asked for 8 bytes of a 5-byte input, the read is short — honestly: it ends the input."""
    elf = _reader(8)
    session, claim, proof = prove_elf(elf, b"hello")
    assert (session.exit_code, session.journal, claim.input_chunk) == (5, b"hell", b"hello")
    assert claim.input_len == 5
    verify_elf(elf, claim, proof)
    with pytest.raises(VerificationError, match="interactions do not balance"):  # the length is bound
        verify_elf(elf, dataclasses.replace(claim, input_len=6), proof)
    with pytest.raises(VerificationError, match="past the input"):
        verify_elf(elf, dataclasses.replace(claim, input_len=4), proof)


def _forge_read(run, data: bytes):
    """The reader guest's run with its read returning `data` instead, consistently everywhere: a0
    (then s1, then a0 again at the exit), the bytes in memory, the input chunk and position, the exit code."""
    tr, count = run.trace, len(data)
    ecalls, cols = tr.ecalls.copy(), tr.columns.copy()
    ecalls[E_RESULT, 0] = count
    read_row = int(tr.ecalls[0, 0])
    cols[RD_VAL, read_row] = cols[RD_VAL, read_row + 1] = count  # a0 = count, then s1 = a0
    cols[RD_VAL, len(tr) - 3] = count  # a0 = s1 before the exit (then a7 = 93, ecall)
    regs = list(run.end.registers)
    regs[9] = regs[10] = count
    buf = data.ljust(8, b"\0")
    memory = ((BUF, 0, int.from_bytes(buf[:4], "little")), (BUF + 4, 0, int.from_bytes(buf[4:], "little")))
    return dataclasses.replace(
        run, trace=dataclasses.replace(tr, columns=cols, ecalls=ecalls), input_chunk=data, exit_code=count,
        end=dataclasses.replace(run.end, registers=tuple(regs), input_pos=count), memory=memory)


def test_a_short_read_in_the_middle_of_the_input_is_rejected() -> None:
    """The guest asks for 8 bytes of an 11-byte input; the forged run hands it 5 (a false EOF), consistently
    everywhere, so only the input length tells it from a read that ends the input."""
    elf = _reader(8)
    run = _run(elf, b"hello world")
    assert run.input_chunk == b"hello wo" and run.input_len == 11
    forged_run = _forge_read(run, b"hello")
    traces, claim = generate(load_elf(elf), forged_run), claim_of(forged_run)
    assert claim.input_chunk == b"hello" and claim.input_len == 11
    why = "read: count = a2 unless the read reaches the end of the input"
    assert _violations(C.CPU, traces[2], claim) == {why}
    assert not _violations(IO.IO, traces[8], claim)
    with pytest.raises(ProofError, match=why):  # the prover's own check
        prove_segment(elf, forged_run)
    proof = _prove_forged(elf, claim, traces)  # pushed past it
    with pytest.raises(VerificationError, match="rv32im-cpu: constraints do not hold"):
        verify_elf(elf, claim, proof)
    # the same 5-byte read is honest for a 5-byte input: then it does end the input
    honest = dataclasses.replace(forged_run, input_len=5)
    claim5, proof5 = prove_segment(elf, honest)
    verify_elf(elf, claim5, proof5)


def test_a_journal_byte_other_than_the_byte_in_memory_is_rejected() -> None:
    elf = _reader(8)
    run = _run(elf, b"hello")
    traces, claim = generate(load_elf(elf), run), claim_of(run)
    io = traces[8].astype(np.int64)
    row = int(np.nonzero(io[IO.WRITE] == 1)[0][1])  # the journal's second byte
    io[IO.BYTE, row] ^= 0x20
    traces[8] = np.ascontiguousarray(io % F.P, dtype=np.uint32)
    forged = dataclasses.replace(claim, journal_chunk=b"hEll")  # the journal the forged rows send
    assert "write: the byte is the word's byte at the offset" in _violations(IO.IO, traces[8], forged)
    proof = _prove_forged(elf, forged, traces)
    with pytest.raises(VerificationError, match="rv32im-io: constraints do not hold"):
        verify_elf(elf, forged, proof)


def test_an_input_byte_other_than_the_claimed_one_is_rejected() -> None:
    elf = _reader(8)
    run = _run(elf, b"hullo")  # the guest really read "hullo" (and wrote "hull")
    traces = generate(load_elf(elf), run)
    forged = dataclasses.replace(claim_of(run), input_chunk=b"hello")  # the claim says it read "hello"
    assert not _violations(C.CPU, traces[2], forged) and not _violations(IO.IO, traces[8], forged)
    proof = _prove_forged(elf, forged, traces)
    with pytest.raises(VerificationError, match="interactions do not balance"):
        verify_elf(elf, forged, proof)
    # and a read row that puts another byte into memory than the one it takes from the input
    io = traces[8].astype(np.int64)
    row = int(np.nonzero((io[IO.REAL] == 1) & (io[IO.WRITE] == 0))[0][1])
    k = int(np.nonzero(io[list(IO.OFF), row])[0][0])
    io[IO.NEW[k], row] ^= 1
    assert "new byte 1: a read puts the byte at the offset, a write changes nothing" in _violations(
        IO.IO, np.ascontiguousarray(io % F.P, dtype=np.uint32), claim_of(run))


def test_a_read_count_above_the_length_asked_for_is_rejected() -> None:
    """The guest asks for 4 bytes; the forged run copies 5 (consistently everywhere: a0, memory, positions),
    which is also where the input ends, so only count ≤ a2 is broken."""
    elf = _reader(4)
    run = _run(elf, b"hello")
    assert run.input_chunk == b"hell" and run.exit_code == 4
    forged_run = _forge_read(run, b"hello")
    traces, claim = generate(load_elf(elf), forged_run), claim_of(forged_run)
    assert _violations(C.CPU, traces[2], claim) == {"read: count ≤ a2 (a2 − count does not borrow)"}
    assert not _violations(IO.IO, traces[8], claim)
    proof = _prove_forged(elf, claim, traces)
    with pytest.raises(VerificationError, match="rv32im-cpu: constraints do not hold"):
        verify_elf(elf, claim, proof)


def test_a_read_count_other_than_the_bytes_moved_is_rejected() -> None:
    """a0 says 4 bytes were read, the io chip moved 5 (and the claim's input chunk has 5)."""
    elf = _reader(8)
    run = _run(elf, b"hello")
    traces, claim = generate(load_elf(elf), run), claim_of(run)
    cpu = traces[2].astype(np.int64)
    row = int(np.nonzero(cpu[C.FLAG["read"]] == 1)[0][0])
    cpu[C.RES[0], row] = 4
    traces[2] = np.ascontiguousarray(cpu % F.P, dtype=np.uint32)
    proof = _prove_forged(elf, claim, traces)
    with pytest.raises(VerificationError, match="interactions do not balance"):
        verify_elf(elf, claim, proof)


def test_the_reader_guest_is_bound_to_its_input_in_the_executor() -> None:
    assert execute(_reader(4), b"hello").journal == b"hell"


def test_a_read_into_code_is_refused() -> None:
    """Input read over the program's own code: the executor allows it, the AIR has no witness (code is
    read-only, so the program table keeps describing the image); forced through, the verifier rejects it."""
    li = lambda rd, v: encode("addi", rd=rd, rs1=0, imm=v)  # noqa: E731
    words = [encode("lui", rd=11, imm=0x10), li(10, 0), encode("addi", rd=11, rs1=11, imm=0x40), li(12, 4),
             li(17, 63), encode("ecall"), li(17, 93), encode("ecall")]
    code = b"".join(w.to_bytes(4, "little") for w in words) + bytes(0x40 - 4 * len(words) + 8)
    elf = write_elf(0x1_0000, [(0x1_0000, code, PF_R | PF_X)])
    run = _run(elf, b"abcd")
    assert run.input_chunk == b"abcd" and run.memory[0][0] == 0x1_0040
    with pytest.raises(ProofError, match="rv32im-io: constraint 'a read never writes a read-only"):
        prove_segment(elf, run)
    traces, claim = generate(load_elf(elf), run), claim_of(run)
    proof = _prove_forged(elf, claim, traces)
    with pytest.raises(VerificationError, match="rv32im-io: constraints do not hold"):
        verify_elf(elf, claim, proof)
