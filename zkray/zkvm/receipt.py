"""Receipts: image id + journal + seal, with one canonical encoding and a strict decoder.

Encoding (little-endian):

    magic "ZKRC" (4) · version u16 = 1 · image_id (32) · journal_len u32 · journal · seal_len u32 · seal

Decoding rejects a wrong magic or version, truncation, lengths beyond the limits and trailing bytes with
a `ReceiptError` naming the field; it never allocates more than the input's own size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from zkray.zkvm.codec import Reader, Writer
from zkray.zkvm.errors import ReceiptError, VerificationError
from zkray.zkvm.params import DEFAULT_PARAMS, StarkParams

MAGIC = b"ZKRC"
VERSION = 1
MAX_JOURNAL = 1 << 20  # 1 MiB: journals are outputs, not data dumps
MAX_SEAL = 64 << 20


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

    def verify(self, image_id: bytes | None = None, params: StarkParams = DEFAULT_PARAMS) -> None:
        """Raise VerificationError unless the seal proves that `image_id` produced `journal`.

        Pass the image id you expect: a receipt is only evidence about the program it names.
        """
        from zkray.zkvm.guests import by_image_id
        from zkray.zkvm.verifier import verify_seal

        if image_id is not None and image_id != self.image_id:
            raise VerificationError(f"receipt is for image {self.image_id.hex()}, expected {image_id.hex()}")
        guest = by_image_id(self.image_id)
        if guest is None:
            raise VerificationError(f"unknown image id {self.image_id.hex()}: not a program this verifier knows")
        public = guest.public_from_journal(self.journal)
        verify_seal(guest.air, self.seal, public, params)
