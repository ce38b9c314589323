"""The attester: verify a zkray STARK receipt, and only if it verifies, sign the EIP-712 statement that the
on-chain AttestationVerifier checks.

A STARK is too large to verify on-chain, so registered attesters vouch for it: each runs zkray's own
verifier and signs `Statement(imageId, journalDigest, receiptDigest)` under the domain
("zkray AttestationVerifier", "1", chainId, verifier address). The seal submitted to the engine is
`abi.encode(receiptDigest, signatures)` with signatures ordered by signer address; the contract
accepts it when at least `threshold` registered attesters signed.

An RV32IM guest's receipt (a composite of segment proofs) verifies only with the guest's ELF: the
attester takes it as `program=`, or looks it up by image id in the `programs` it was given (the node
passes the ELFs its running jobs hold), and refuses to sign a receipt whose program it does not have.

The attester key comes from a file (`--key-file`, one hex line) or the environment (`ZKRAY_ATTESTER_KEY`),
never from a command-line argument that other users of the machine could read.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from zkray.zkvm.errors import ZkvmError

if TYPE_CHECKING:
    from zkray.zkvm.receipt import Receipt

KEY_ENV = "ZKRAY_ATTESTER_KEY"
DOMAIN_NAME = "zkray AttestationVerifier"
DOMAIN_VERSION = "1"
DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
STATEMENT_TYPEHASH = keccak(text="Statement(bytes32 imageId,bytes32 journalDigest,bytes32 receiptDigest)")


class AttesterKeyError(ValueError):
    """No usable attester key: pass --key-file or set ZKRAY_ATTESTER_KEY to a 32-byte hex private key."""


class UnknownProgram(LookupError):
    """The receipt is for an ELF guest this attester has no ELF for, so it cannot verify it: pass the ELF
    (`program=`, `--elf`) or give the attester a program lookup that has it."""


ProgramLookup = Callable[[bytes], "bytes | None"]
"""Image id -> the guest's ELF, or None when not known here."""


@dataclass(frozen=True)
class Statement:
    """What an attester vouches for: this image id produced this journal, proven by this receipt."""

    image_id: bytes
    journal_digest: bytes
    receipt_digest: bytes

    @classmethod
    def of(cls, receipt: Receipt) -> Statement:
        return cls(receipt.image_id, receipt.journal_digest(), receipt.digest())

    def digest(self, chain_id: int, verifier: str) -> bytes:
        """The EIP-712 digest that is signed, identical to AttestationVerifier.statementDigest."""
        domain = keccak(
            abi_encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    DOMAIN_TYPEHASH,
                    keccak(text=DOMAIN_NAME),
                    keccak(text=DOMAIN_VERSION),
                    chain_id,
                    to_checksum_address(verifier),
                ],
            )
        )
        struct = keccak(
            abi_encode(
                ["bytes32", "bytes32", "bytes32", "bytes32"],
                [STATEMENT_TYPEHASH, self.image_id, self.journal_digest, self.receipt_digest],
            )
        )
        return keccak(b"\x19\x01" + domain + struct)


@dataclass(frozen=True)
class Attestation:
    statement: Statement
    signer: str
    signature: bytes


class Attester:
    """Holds one attester key; signs only receipts that pass zkray's STARK verifier."""

    def __init__(self, private_key: str | bytes, *, programs: ProgramLookup | None = None) -> None:
        self._programs = programs
        try:
            self._account: LocalAccount = Account.from_key(private_key)
        except (ValueError, TypeError) as exc:
            raise AttesterKeyError(f"invalid attester key: {exc}") from None
        self.address: str = self._account.address

    @classmethod
    def load(cls, key_file: str | Path | None = None, env: str = KEY_ENV) -> Attester:
        """From `key_file` if given, else from the environment variable `env`."""
        if key_file is not None:
            path = Path(key_file)
            if not path.is_file():
                raise AttesterKeyError(f"attester key file {path} does not exist")
            return cls(path.read_text().strip())
        value = os.environ.get(env)
        if not value:
            raise AttesterKeyError(f"set {env} or pass a key file")
        return cls(value.strip())

    def attest(self, receipt: Receipt, *, chain_id: int, verifier: str, program: bytes | None = None) -> Attestation:
        """Verify `receipt` (raises VerificationError if it does not verify, UnknownProgram if it is an ELF
        guest's and its ELF is not at hand), then sign its statement."""
        verify_receipt(receipt, program if program is not None else self._lookup(receipt.image_id))
        statement = Statement.of(receipt)
        return self.sign(statement, chain_id=chain_id, verifier=verifier)

    def _lookup(self, image_id: bytes) -> bytes | None:
        from zkray.zkvm.guests import by_image_id

        if by_image_id(image_id) is not None or self._programs is None:
            return None  # a built-in guest: its AIR is the verifier's own, no ELF needed
        return self._programs(image_id)

    def sign(self, statement: Statement, *, chain_id: int, verifier: str) -> Attestation:
        """Sign a statement without verifying: for tests of the contract's rejection paths only."""
        signed = self._account.unsafe_sign_hash(statement.digest(chain_id, verifier))
        return Attestation(statement, self.address, bytes(signed.signature))


def verify_receipt(receipt: Receipt, program: bytes | None) -> None:
    """The check an attester runs: a built-in guest's STARK, or an ELF guest's composite with its ELF."""
    from zkray.zkvm.guests import by_image_id

    if program is not None:
        receipt.verify(receipt.image_id, program=program)  # the ELF must hash to the receipt's image id
        return
    if by_image_id(receipt.image_id) is None:
        raise UnknownProgram(
            f"receipt for image {receipt.image_id.hex()} is not a built-in guest's and its ELF is not at hand; "
            "pass the ELF (program=, --elf) to verify it"
        )
    receipt.verify()


def encode_seal(attestations: Iterable[Attestation]) -> bytes:
    """The seal for `submitProof`: one receipt digest and the signatures ordered by signer address."""
    items = sorted(attestations, key=lambda a: int(a.signer, 16))
    digests = {a.statement.receipt_digest for a in items}
    if len(digests) != 1:
        raise ValueError("attestations must all be for the same receipt")
    return abi_encode(["bytes32", "bytes[]"], [digests.pop(), [a.signature for a in items]])


def decode_seal(seal: bytes) -> tuple[bytes, list[bytes]]:
    digest, signatures = abi_decode(["bytes32", "bytes[]"], seal)
    return bytes(digest), [bytes(s) for s in signatures]


def main(argv: list[str] | None = None) -> int:
    """`python -m zkray.attest RECEIPT --chain-id N --verifier ADDR`: print the signature as hex."""
    from zkray.zkvm.receipt import Receipt

    parser = argparse.ArgumentParser(prog="python -m zkray.attest", description=__doc__.split("\n\n")[0])
    parser.add_argument("receipt", type=Path, help="a receipt file (Receipt.encode() bytes)")
    parser.add_argument("--chain-id", type=int, required=True)
    parser.add_argument("--verifier", required=True, help="the AttestationVerifier contract address")
    parser.add_argument("--key-file", type=Path, default=None, help=f"default: ${KEY_ENV}")
    parser.add_argument("--elf", type=Path, default=None, help="the guest's ELF (receipts of RV32IM guests)")
    args = parser.parse_args(argv)
    try:
        attester = Attester.load(args.key_file)
        receipt = Receipt.decode(args.receipt.read_bytes())
        program = args.elf.read_bytes() if args.elf is not None else None
        attestation = attester.attest(receipt, chain_id=args.chain_id, verifier=args.verifier, program=program)
    except (AttesterKeyError, UnknownProgram, ZkvmError, OSError) as exc:
        print(f"not attested: {exc}", file=sys.stderr)
        return 1
    print(f"{attestation.signer} 0x{attestation.signature.hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
