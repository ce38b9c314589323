"""Proving one segment of an execution: the statement, and the functions that prove and verify it.

Statement (docs/segments-plan.md §2): "started at `start` with the listed words holding their `before`
values (code from the image is read-only), the ELF's program ran on an input of `input_len` bytes, reading
`input_chunk` and writing `journal_chunk`, and reached `end` with the words holding their `after` values
(and, if `halted`, stopped at its exit ECALL with `exit_code`)". A whole run is the one-segment case
(statement.py). `input_len` is what makes reads honest: a read returns min(a2, input_len − position) bytes,
so it is short only at the end of the input (the guest ABI), never a false EOF in the middle of it.

The verifier builds every public value from the claim and the ELF, never from the prover:
- public inputs: the start pc, input position and journal length (the CPU's first row), the input length;
- the decoded code table (from the ELF) on the "code" bus;
- each register's initial tuple (index, start value, t = 0) on "reg" and its final value on "reg-final";
- each listed word's initial tuple (address, before, t = 0, ro) on "mem" and its final value on "ram-final",
  with ro = the word lies in an executable segment of the ELF;
- each input byte (0, absolute position, byte) and journal byte (1, absolute position, byte) on "stream";
- the end tuple (halted, end pc, exit code or 0) on "end".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from zkray.zkvm.elf import Program
from zkray.zkvm.errors import VerificationError
from zkray.zkvm.multi import MultiProof, PublicTuple, prove_multi, verify_multi
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams
from zkray.zkvm.prover import ProverStats
from zkray.zkvm.rv32im.executor import load
from zkray.zkvm.rv32im.segment import Boundary, SegmentRun
from zkray.zkvm.rv32im_air.cpu import CPU, END_BUS
from zkray.zkvm.rv32im_air.decode import ADDRESS_LIMIT, code_addresses, program_table
from zkray.zkvm.rv32im_air.div import DIV
from zkray.zkvm.rv32im_air.io import IO, STREAM_BUS
from zkray.zkvm.rv32im_air.memory import MEM_BUS, RAM, RAM_FINAL_BUS, RAM_START, REG_BUS, REG_FINAL_BUS, REGISTERS
from zkray.zkvm.rv32im_air.mul import MUL
from zkray.zkvm.rv32im_air.shift import SHIFT
from zkray.zkvm.rv32im_air.tables import BYTES, CODE_BUS, PROGRAM

SEGMENT_CHIPS = (BYTES, PROGRAM, CPU, REGISTERS, RAM, SHIFT, MUL, DIV, IO)
U32 = 1 << 32
STREAM_LIMIT = 1 << 30  # stream positions are field elements: keep them (and position + count) far below p


@dataclass(frozen=True)
class SegmentClaim:
    """What a segment proof states (module docstring); every field is public."""

    start: Boundary
    end: Boundary
    halted: bool
    exit_code: int
    memory: tuple[tuple[int, int, int], ...]  # (word address, before, after), ascending, 4-aligned
    input_chunk: bytes
    journal_chunk: bytes
    input_len: int  # the whole input's length (every segment of a run states the same one)

    @property
    def final_pc(self) -> int:
        """The pc the segment ends at (the exit ECALL's own pc when it halted)."""
        return self.end.pc


def claim_of(run: SegmentRun) -> SegmentClaim:
    """The claim an honest proof of `run` makes."""
    return SegmentClaim(start=run.start, end=run.end, halted=run.halted, exit_code=run.exit_code,
                        memory=run.memory, input_chunk=run.input_chunk, journal_chunk=run.journal_chunk,
                        input_len=run.input_len)


def public_inputs(claim: SegmentClaim) -> list[int]:
    """The CPU chip's public inputs (cpu.PUBLIC_* say which is which)."""
    return [claim.start.pc, claim.start.input_pos, claim.start.journal_len, claim.input_len]


@lru_cache(maxsize=8)
def _code(program: Program) -> tuple[tuple[PublicTuple, ...], frozenset[int]]:
    """The ELF's decoded code table as public tuples and its read-only word addresses (cached: a composite
    receipt verifies many segments of one program)."""
    table = tuple(PublicTuple(CODE_BUS, d.fields(), -1) for d in program_table(program))
    return table, frozenset(code_addresses(program))


def _le(v: int) -> tuple[int, ...]:
    return tuple(v.to_bytes(4, "little"))


def public_tuples(program: Program, claim: SegmentClaim) -> list[PublicTuple]:
    """Everything the verifier itself puts on the buses (module docstring)."""
    table, code = _code(program)
    out = list(table)
    for i in range(32):
        out.append(PublicTuple(REG_BUS, (i, *_le(claim.start.registers[i]), 0), 1))
        out.append(PublicTuple(REG_FINAL_BUS, (i, *_le(claim.end.registers[i])), -1))
    for addr, before, after in claim.memory:
        out.append(PublicTuple(MEM_BUS, (addr, *_le(before), 0, int(addr in code)), 1))
        out.append(PublicTuple(RAM_FINAL_BUS, (addr, *_le(after)), -1))
    out += [PublicTuple(STREAM_BUS, (0, claim.start.input_pos + i, byte), 1)
            for i, byte in enumerate(claim.input_chunk)]
    out += [PublicTuple(STREAM_BUS, (1, claim.start.journal_len + i, byte), -1)
            for i, byte in enumerate(claim.journal_chunk)]
    out.append(PublicTuple(END_BUS, (int(claim.halted), claim.end.pc, *_le(claim.exit_code if claim.halted else 0)),
                           -1))
    return out


def check_claim(claim: SegmentClaim) -> None:
    """VerificationError unless the claim is well formed (values in range, lengths consistent)."""
    for name, b in (("start", claim.start), ("end", claim.end)):
        if not (0 <= b.pc < ADDRESS_LIMIT and b.pc % 4 == 0):
            raise VerificationError(f"{name} pc {b.pc:#x} is not an aligned address inside guest memory")
        if len(b.registers) != 32 or any(not 0 <= v < U32 for v in b.registers) or b.registers[0] != 0:
            raise VerificationError(f"{name} registers must be 32 unsigned 32-bit values with x0 = 0")
        if not (0 <= b.input_pos < STREAM_LIMIT and 0 <= b.journal_len < STREAM_LIMIT):
            raise VerificationError(f"{name} input position / journal length out of range")
    if claim.end.input_pos != claim.start.input_pos + len(claim.input_chunk):
        raise VerificationError("the input chunk's length differs from end.input_pos − start.input_pos")
    if claim.end.journal_len != claim.start.journal_len + len(claim.journal_chunk):
        raise VerificationError("the journal chunk's length differs from end.journal_len − start.journal_len")
    if not 0 <= claim.input_len < STREAM_LIMIT:
        raise VerificationError(f"input length {claim.input_len} out of range (at most {STREAM_LIMIT - 1})")
    # the AIR's "count = a2 unless the read ends the input" needs input_len − position ≥ 0 on every read: the
    # positions a segment reads at never pass end.input_pos (the stream bus), so this bound is enough
    if claim.end.input_pos > claim.input_len:
        raise VerificationError(f"the segment ends at input position {claim.end.input_pos}, past the input's "
                                f"{claim.input_len} bytes")
    if not 0 <= claim.exit_code < U32 or (not claim.halted and claim.exit_code):
        raise VerificationError(f"exit code {claim.exit_code} must be an unsigned 32-bit value, and 0 unless halted")
    prev = RAM_START - 4
    for addr, before, after in claim.memory:
        if addr % 4 or addr <= prev or addr >= ADDRESS_LIMIT:
            raise VerificationError(f"memory word {addr:#x}: addresses must be 4-aligned, ascending and inside "
                                    f"[{RAM_START:#x}, {ADDRESS_LIMIT:#x})")
        if not (0 <= before < U32 and 0 <= after < U32):
            raise VerificationError(f"memory word {addr:#x}: values must be unsigned 32-bit")
        prev = addr


def prove_segment(program: bytes | Program, run: SegmentRun, *, params: StarkParams = DEFAULT_PARAMS,
                  check: bool = True, stats: ProverStats | None = None) -> tuple[SegmentClaim, MultiProof]:
    """Prove one executed segment (`zkray.zkvm.rv32im.segment.execute_segment`); ProofError if the AIR
    cannot prove it (e.g. code outside the ELF's executable segments, a store into code)."""
    from zkray.zkvm.rv32im_air.witness import generate  # prover-only import

    program = load(program)
    claim = claim_of(run)
    traces = generate(program, run)
    proof = prove_multi(SEGMENT_CHIPS, traces, public_inputs(claim), params,
                        public_tuples=public_tuples(program, claim), check=check, stats=stats)
    return claim, proof


def verify_segment(program: bytes | Program, claim: SegmentClaim, proof: MultiProof, *,
                   params: StarkParams = DEFAULT_PARAMS) -> None:
    """VerificationError unless `proof` shows this ELF ran this segment as `claim` states."""
    program = load(program)
    check_claim(claim)
    if proof.params != params:
        raise VerificationError("the proof was made under other STARK parameters than the verifier expects")
    verify_multi(SEGMENT_CHIPS, proof, public_inputs(claim), public_tuples=public_tuples(program, claim))
