"""The node's Ed25519 identity: read from a variable or a file, or created once and saved 0600.

Format, in both places: the 32-byte private seed as 64 hex characters (a trailing newline is fine).
The secret never appears in a log or a repr: `NodeKey` shows only its public key.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from zkray.orchestrator.errors import NodeKeyError

DEFAULT_KEY_ENV = "ZKRAY_NODE_KEY"
DEFAULT_KEY_FILE = Path("~/.zkray/node_key")


@dataclass(frozen=True)
class NodeKey:
    """An Ed25519 signing key whose repr is the public half only."""

    private: Ed25519PrivateKey = field(repr=False)

    @property
    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_hex(self) -> str:
        return self.public_bytes.hex()

    def __repr__(self) -> str:
        return f"NodeKey(public={self.public_hex})"

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_hex(cls, text: str, source: str) -> NodeKey:
        """Parse a hex seed; `source` names where it came from, for the error message only."""
        try:
            seed = bytes.fromhex(text.strip())
        except ValueError:
            raise NodeKeyError(f"{source} is not hex; it must hold a 32-byte Ed25519 seed as 64 hex digits") from None
        if len(seed) != 32:
            raise NodeKeyError(f"{source} holds {len(seed)} bytes; an Ed25519 seed is 32 bytes (64 hex characters)")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def seed_hex(self) -> str:
        """The secret seed as hex, for saving it; never log this."""
        return self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()


def load_or_create_key(path: Path | None = None, env_var: str = DEFAULT_KEY_ENV) -> NodeKey:
    """The key from `$env_var` if set, else from `path`, else a new one written to `path` with mode 0600."""
    value = os.environ.get(env_var)
    if value:
        return NodeKey.from_hex(value, f"${env_var}")
    path = (path or DEFAULT_KEY_FILE).expanduser()
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise NodeKeyError(f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}`")
        return NodeKey.from_hex(path.read_text(), str(path))
    key = NodeKey.generate()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise NodeKeyError(f"cannot create node key file {path}: {e}; set ${env_var} or choose another path") from e
    with os.fdopen(fd, "w") as f:
        f.write(key.seed_hex() + "\n")
    return key
