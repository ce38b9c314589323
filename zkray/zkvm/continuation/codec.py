"""Segment receipts and the composite seal: canonical encodings with strict, bounded decoders.

Segment receipt (what one prove task returns), little-endian:

    magic "ZKG2"
    claim:    start boundary · end boundary · halted u8 (0 or 1) · exit_code u32 · input_len u64
              · word count u32 · per word: address u32, before u32, after u32   (ascending, 4-aligned)
              · input_chunk (u32 length + bytes) · journal_chunk (u32 length + bytes)
              where a boundary is pc u32 · 32 registers u32 · input_pos u64 · journal_len u64
    witness:  sibling count u32 · presence bitmap (⌈count/8⌉ bytes, bit i = byte i/8, bit i%8; set: the
              sibling is spelled out, clear: it is the zero subtree of its level; unused bits 0)
              · the spelled-out siblings, 32 bytes each
    proof:    u32 length + the multi-chip seal (ZKM1) of the segment's STARK

Composite seal (the `seal` of a Receipt for an ELF guest):

    magic "ZKC1" · segment count u32 (≥ 1) · per segment: u32 length + segment receipt

Every length is checked against the bytes left before anything is allocated; the proof is decoded with
the segment AIR's chips under the verifier's parameters (a seal made under other parameters is refused);
malformed bytes of any kind raise `ReceiptError` naming the segment and field, never another exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkray.zkvm import multi
from zkray.zkvm.codec import Reader, Writer
from zkray.zkvm.continuation.memory import DEPTH, Sibling
from zkray.zkvm.elf import MEMORY_END
from zkray.zkvm.errors import ReceiptError
from zkray.zkvm.multi import MultiProof
from zkray.zkvm.params import StarkParams
from zkray.zkvm.receipt import COMPOSITE_MAGIC
from zkray.zkvm.rv32im.segment import Boundary
from zkray.zkvm.rv32im_air.segment import SEGMENT_CHIPS, SegmentClaim

SEGMENT_MAGIC = b"ZKG2"  # ZKG1 had no input length (and its proofs no longer verify)
MAX_CHUNK = 1 << 24  # input or journal bytes per segment (the executor's journal limit is 16 MiB)
MAX_PROOF = 32 << 20
MAX_SEGMENTS = 1 << 16


@dataclass(frozen=True)
class SegmentReceipt:
    """One segment's claim, the STARK proving it, and the Merkle siblings of its words in the start memory."""

    claim: SegmentClaim
    proof: MultiProof
    siblings: tuple[Sibling, ...]


def _write_boundary(w: Writer, b: Boundary) -> None:
    w.u32(b.pc)
    for r in b.registers:
        w.u32(r)
    w.u64(b.input_pos)
    w.u64(b.journal_len)


def _read_boundary(r: Reader, what: str) -> Boundary:
    pc = r.u32(f"{what} pc")
    regs = tuple(r.u32(f"{what} x{i}") for i in range(32))
    return Boundary(pc=pc, registers=regs, input_pos=r.u64(f"{what} input_pos"),
                    journal_len=r.u64(f"{what} journal_len"))


def _write_claim(w: Writer, c: SegmentClaim) -> None:
    _write_boundary(w, c.start)
    _write_boundary(w, c.end)
    w.u8(int(bool(c.halted)))
    w.u32(c.exit_code)
    w.u64(c.input_len)
    w.u32(len(c.memory))
    for addr, before, after in c.memory:
        w.u32(addr)
        w.u32(before)
        w.u32(after)
    w.blob(c.input_chunk)
    w.blob(c.journal_chunk)


def _read_claim(r: Reader, what: str) -> SegmentClaim:
    start, end = _read_boundary(r, "start"), _read_boundary(r, "end")
    halted = r.u8("halted")
    if halted > 1:
        raise ReceiptError(f"{what}: halted flag is {halted}, not 0 or 1")
    exit_code = r.u32("exit code")
    input_len = r.u64("input length")
    count = r.u32("word count")
    if 12 * count > r.remaining():
        raise ReceiptError(f"{what}: {count} memory words do not fit in the {r.remaining()} bytes left")
    memory = []
    for _ in range(count):
        addr, before, after = r.u32("word address"), r.u32("word before"), r.u32("word after")
        if addr % 4 or addr >= MEMORY_END or (memory and addr <= memory[-1][0]):
            raise ReceiptError(f"{what}: word address {addr:#x} is unaligned, outside memory or not "
                               f"above the previous one")
        memory.append((addr, before, after))
    return SegmentClaim(start=start, end=end, halted=bool(halted), exit_code=exit_code, memory=tuple(memory),
                        input_chunk=r.blob("input chunk", MAX_CHUNK), journal_chunk=r.blob("journal chunk", MAX_CHUNK),
                        input_len=input_len)


def _write_siblings(w: Writer, siblings: Sequence[Sibling]) -> None:
    bitmap = bytearray(-(-len(siblings) // 8))
    for i, s in enumerate(siblings):
        if s is not None:
            if len(s) != 32:
                raise ValueError("a sibling is a 32-byte digest or None")
            bitmap[i // 8] |= 1 << (i % 8)
    w.u32(len(siblings))
    w.raw(bytes(bitmap))
    for s in siblings:
        if s is not None:
            w.raw(s)


def _read_siblings(r: Reader, words: int, what: str) -> tuple[Sibling, ...]:
    count = r.u32("sibling count")
    if count > DEPTH * words:
        raise ReceiptError(f"{what}: {count} siblings for {words} words (at most {DEPTH} each)")
    bitmap = r.raw(-(-count // 8), "sibling bitmap")
    if count % 8 and bitmap[-1] >> (count % 8):
        raise ReceiptError(f"{what}: sibling bitmap has bits set past its count (not canonical)")
    present = [bool(bitmap[i // 8] >> (i % 8) & 1) for i in range(count)]
    if 32 * sum(present) > r.remaining():
        raise ReceiptError(f"{what}: the spelled-out siblings do not fit in the bytes left (truncated?)")
    return tuple(r.digest("sibling") if p else None for p in present)


def encode_segment(receipt: SegmentReceipt) -> bytes:
    w = Writer()
    w.raw(SEGMENT_MAGIC)
    _write_claim(w, receipt.claim)
    _write_siblings(w, receipt.siblings)
    w.blob(multi.encode(receipt.proof))
    return bytes(w)


def decode_segment(data: bytes, params: StarkParams, what: str = "segment receipt") -> SegmentReceipt:
    """Strictly parse one segment receipt whose proof was made under `params`; ReceiptError otherwise."""
    r = Reader(data, what)
    if r.raw(4, "magic") != SEGMENT_MAGIC:
        raise ReceiptError(f"{what}: wrong magic (not a zkray segment receipt, or another version)")
    claim = _read_claim(r, what)
    siblings = _read_siblings(r, len(claim.memory), what)
    seal = r.blob("proof", MAX_PROOF)
    r.finish()
    try:
        proof = multi.decode(seal, SEGMENT_CHIPS, params)
    except ReceiptError as e:
        raise ReceiptError(f"{what}: proof: {e}") from e
    return SegmentReceipt(claim, proof, siblings)


def encode_composite(segments: Sequence[bytes]) -> bytes:
    """The composite seal of already-encoded segment receipts, in execution order."""
    if not 1 <= len(segments) <= MAX_SEGMENTS:
        raise ValueError(f"a composite seal holds 1..{MAX_SEGMENTS} segments, got {len(segments)}")
    w = Writer()
    w.raw(COMPOSITE_MAGIC)
    w.u32(len(segments))
    for s in segments:
        w.blob(s)
    return bytes(w)


def is_composite(seal: bytes) -> bool:
    return bytes(seal[:4]) == COMPOSITE_MAGIC


def split_composite(seal: bytes) -> list[bytes]:
    """The encoded segment receipts of a composite seal (framing only; `decode_composite` parses them)."""
    r = Reader(seal, "composite seal")
    if r.raw(4, "magic") != COMPOSITE_MAGIC:
        raise ReceiptError("composite seal: wrong magic (not a zkray composite seal, or another version)")
    count = r.u32("segment count")
    if not 1 <= count <= MAX_SEGMENTS or 4 * count > r.remaining():
        raise ReceiptError(f"composite seal: segment count {count} is 0, over {MAX_SEGMENTS} or does not fit")
    parts = [r.blob(f"segment {i}", MAX_PROOF + (1 << 26)) for i in range(count)]
    r.finish()
    return parts


def decode_composite(seal: bytes, params: StarkParams) -> list[SegmentReceipt]:
    """Strictly parse a composite seal: every segment receipt, proofs included; ReceiptError otherwise."""
    return [decode_segment(part, params, f"composite seal segment {i}")
            for i, part in enumerate(split_composite(seal))]
