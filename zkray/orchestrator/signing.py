"""What a node signs when it submits a proof, and how the orchestrator checks it.

The statement is the UTF-8 encoding of `f"{version} | {task_id} | {proof_hash}"` — the Nexus node's
format — with version 0, and `proof_hash` the lower-case hex Keccak-256 of the proof bytes (no `0x`).
Example: b"0 | t-000001 | 1c8aff95...". It cannot be read two ways: the version is a prefix up to the
first " | ", and the hash is always the last 64 characters, so whatever lies between is the task id.
Ed25519 signs the whole message (no pre-hashing), so a signature binds one proof to one task.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from eth_utils import keccak

SIGNATURE_VERSION = 0
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def proof_hash(proof: bytes) -> str:
    """Lower-case hex Keccak-256 of the proof bytes, as Nexus computes `proof_hash`."""
    return keccak(proof).hex()


def signing_message(task_id: str, hash_hex: str, version: int = SIGNATURE_VERSION) -> bytes:
    """The exact bytes that are signed: `"<version> | <task_id> | <proof_hash>"` in UTF-8."""
    return f"{version} | {task_id} | {hash_hex}".encode()


def sign_submission(key: Ed25519PrivateKey, task_id: str, hash_hex: str) -> bytes:
    """The 64-byte Ed25519 signature over `signing_message(task_id, hash_hex)`."""
    return key.sign(signing_message(task_id, hash_hex))


def signature_valid(public_key: bytes, signature: bytes, task_id: str, hash_hex: str, version: int) -> bool:
    """True when `signature` by `public_key` covers this task and hash; any malformation is simply False."""
    if version != SIGNATURE_VERSION or len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, signing_message(task_id, hash_hex, version))
    except (InvalidSignature, ValueError):
        return False
    return True
