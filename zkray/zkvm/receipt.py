"""Receipts: image id + journal + seal, with one canonical encoding and a strict decoder.

Encoding (little-endian):

    magic "ZKRC" (4) · version u16 = 1 · image_id (32) · journal_len u32 · journal · seal_len u32 · seal

The seal is a built-in guest's STARK (zkray/zkvm/proof.py) or, for an ELF guest, a composite seal of
segment receipts (magic "ZKC1", zkray/zkvm/continuation/codec.py; docs/receipts.md).

Decoding rejects a wrong magic or version, truncation, lengths beyond the limits and trailing bytes with
a `ReceiptError` naming the field; it never allocates more than the input's own size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from zkray.zkvm.codec import Reader, Writer
from zkray.zkvm.elf import Program
from zkray.zkvm.errors import ReceiptError, VerificationError
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams

MAGIC = b"ZKRC"
VERSION = 1
MAX_JOURNAL = 1 << 20  # 1 MiB: journals are outputs, not data dumps
MAX_SEAL = 64 << 20
COMPOSITE_MAGIC = b"ZKC1"  # an ELF guest's seal: segment receipts chained by state digests (continuation/codec.py)


@dataclass(frozen=True)
class Receipt:
    """What a prover hands over: evidence that the program `image_id` produced `journal`."""

    image_id: bytes
    journal: bytes
    seal: bytes

    def __post_init__(self) -> None:
        if len(self.image_id) != 32:
            raise ReceiptError(f"image id must be 32 bytes, got {len(self.image_id)}")
        if len(self.journal) > MAX_JOURNAL:
            raise ReceiptError(f"journal of {len(self.journal)} bytes exceeds {MAX_JOURNAL}")
        if len(self.seal) > MAX_SEAL:
            raise ReceiptError(f"seal of {len(self.seal)} bytes exceeds {MAX_SEAL}")

    def encode(self) -> bytes:
        w = Writer()
        w.raw(MAGIC)
        w.u16(VERSION)
        w.raw(self.image_id)
        w.blob(self.journal)
        w.blob(self.seal)
        return bytes(w)

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ReceiptError(f"a receipt is bytes, got {type(data).__name__}")
        r = Reader(bytes(data), "receipt")
        if r.raw(4, "magic") != MAGIC:
            raise ReceiptError("receipt: wrong magic (this is not a zkray receipt)")
        version = r.u16("version")
        if version != VERSION:
            raise ReceiptError(f"receipt: version {version} is not supported (this zkray reads {VERSION})")
        image_id = r.raw(32, "image id")
        journal = r.blob("journal", MAX_JOURNAL)
        seal = r.blob("seal", MAX_SEAL)
        r.finish()
        return cls(image_id, journal, seal)

    def journal_digest(self) -> bytes:
        return hashlib.sha256(self.journal).digest()

    def digest(self) -> bytes:
        """sha256 of the canonical encoding: what attestations sign."""
        return hashlib.sha256(self.encode()).digest()

    @property
    def is_composite(self) -> bool:
        """True for an ELF guest's receipt (segments chained by state digests, docs/receipts.md); False for
        a built-in guest's single STARK."""
        return self.seal[:4] == COMPOSITE_MAGIC

    def verify(self, image_id: bytes | None = None, params: StarkParams = DEFAULT_PARAMS, *,
               program: bytes | Program | None = None, exit_code: int | None = 0, input: bytes | None = None) -> None:
        """Raise VerificationError unless the seal proves that `image_id` produced `journal`.

        Pass the image id you expect: a receipt is only evidence about the program it names. An ELF
        guest's receipt (composite seal) needs the ELF itself, `program=`, whose image id must be the
        receipt's: the verifier decodes the code it checks the segments against. For those, `exit_code` is
        the code the guest must have exited with (default 0, as RISC Zero's verify; None accepts any), and
        `input`, if given, must be as long as the input the guest ran on and start with the bytes it consumed.
        """
        if image_id is not None and image_id != self.image_id:
            raise VerificationError(f"receipt is for image {self.image_id.hex()}, expected {image_id.hex()}")
        if self.is_composite:
            from zkray.zkvm.continuation.verify import verify_composite
            from zkray.zkvm.rv32im.executor import load

            if program is None:
                raise VerificationError(f"receipt for image {self.image_id.hex()} is an ELF guest's (composite "
                                        f"seal): pass program=<the ELF bytes> to verify it")
            verify_composite(load(program), self.image_id, self.journal, self.seal, params, exit_code=exit_code,
                             input=input)
            return
        from zkray.zkvm.guests import by_image_id
        from zkray.zkvm.verifier import verify_seal

        guest = by_image_id(self.image_id)
        if guest is None:
            raise VerificationError(f"unknown image id {self.image_id.hex()}: not a program this verifier knows")
        public = guest.public_from_journal(self.journal)
        verify_seal(guest.air, self.seal, public, params)
