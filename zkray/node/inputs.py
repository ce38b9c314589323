"""Turning a job into something the prover can run: its input bytes (verified) and a preflight.

Inputs come from `zkray.fetch` (ipfs:// raced over gateways and checked against the CID, http(s)://),
or inline as a `data:` URI (the engine's inputType 1). Every source is checked against the job's input
digest before use: bytes that do not match are never proven.

Preflight prices a job before it is claimed. Here, for a built-in guest: its cycles follow from the
input. An RV32IM ELF guest is resolved with `program_elf` (below) and preflighted by
`zkray.node.programs.preflight_elf`, which executes it untraced and plans its segments; a guest that faults
or exits non-zero is skipped with that reason, never claimed. ELF jobs are then claimed, proved in
segments on the pool and paid like any other.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from zkray.fetch import FetchError, InputDigestMismatch, InputFetcher
from zkray.fetch.errors import BadUrl
from zkray.zkvm.errors import ZkvmError
from zkray.zkvm.guests import BUILTIN_GUESTS, by_image_id

DATA_URI_MAX = 1 << 20


class JobUnprovable(Exception):
    """This node cannot prove the job as posted (bad input, unsupported program); skip or fail it."""

    retryable = False


@dataclass(frozen=True)
class Preflight:
    """What proving will take: the prover kind and program, and the cycles it will run."""

    kind: str
    program: str | bytes
    cycles: int


def decode_data_uri(url: str) -> bytes:
    """The bytes of a `data:[<type>][;base64],<payload>` URI (RFC 2397), capped at DATA_URI_MAX."""
    header, sep, payload = url[5:].partition(",")
    if not sep:
        raise BadUrl(f"{url[:40]!r}: a data: URI needs a ',' before its payload")
    if header.endswith(";base64"):
        try:
            data = base64.b64decode(payload, validate=True)
        except ValueError as exc:
            raise BadUrl(f"data: URI payload is not valid base64: {exc}") from None
    else:
        data = urllib.parse.unquote_to_bytes(payload)
    if len(data) > DATA_URI_MAX:
        raise BadUrl(f"inline input of {len(data)} bytes is over the {DATA_URI_MAX}-byte cap")
    return data


def data_uri(data: bytes) -> str:
    """An inline input URL for `data` (what the demo requester posts)."""
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


async def fetch_input(fetcher: InputFetcher, url: str, digest_hex: str) -> bytes:
    """The job's input, checked against its digest; FetchError (typed, with `retryable`) otherwise."""
    digest = bytes.fromhex(digest_hex.removeprefix("0x"))
    if url.startswith("data:"):
        data = decode_data_uri(url)
        if not hmac.compare_digest(hashlib.sha256(data).digest(), digest):
            raise InputDigestMismatch(f"inline input does not hash to the job's inputDigest {digest.hex()}")
        return data
    return await fetcher.fetch(url, expected_digest=digest)


GUEST_DIR = Path(__file__).resolve().parents[2] / "guest"
GUEST_SCHEME = "zkray://guest/"


async def program_elf(fetcher: InputFetcher, image_id_hex: str, elf_url: str) -> bytes:
    """The ELF the registry names for a program, accepted only if it loads to that image id.

    `zkray://guest/<name>` is a guest shipped in this repository (guest/<name>.elf); other URLs are
    fetched like inputs (ipfs:// verified against its CID)."""
    if elf_url.startswith(GUEST_SCHEME):
        path = GUEST_DIR / f"{elf_url[len(GUEST_SCHEME) :]}.elf"
        if not path.is_file():
            raise JobUnprovable(f"program {elf_url} is not shipped with this node ({path} missing)")
        elf = await asyncio.to_thread(path.read_bytes)
    elif elf_url.startswith("data:"):
        elf = decode_data_uri(elf_url)
    else:
        try:
            elf = await fetcher.fetch(elf_url, expected_digest=None)
        except FetchError as exc:
            raise JobUnprovable(f"the program's ELF at {elf_url} is unavailable: {exc}") from None
    from zkray.zkvm.elf import load_elf
    from zkray.zkvm.rv32im.image import image_id

    try:
        actual = image_id(load_elf(elf))
    except (ZkvmError, ValueError) as exc:
        raise JobUnprovable(f"the program's ELF at {elf_url} does not load: {exc}") from None
    if actual.hex() != image_id_hex.lower().removeprefix("0x"):
        raise JobUnprovable(f"the ELF at {elf_url} has image id {actual.hex()}, not the job's {image_id_hex}")
    return elf


def builtin_name(image_id_hex: str) -> str | None:
    """The built-in guest with this image id, or None."""
    guest = by_image_id(bytes.fromhex(image_id_hex.removeprefix("0x")))
    return None if guest is None else guest.name


async def preflight(image_id_hex: str, data: bytes) -> Preflight:
    """Price a built-in guest's job; JobUnprovable (with the reason to record) when the input does not parse
    or the image id is not a built-in (ELF guests go through `zkray.node.programs.preflight_elf`)."""
    name = builtin_name(image_id_hex)
    if name is None:
        raise JobUnprovable(
            f"image id {image_id_hex[:18]}… is not a built-in guest: preflight it as an ELF (programs.preflight_elf)"
        )
    guest = BUILTIN_GUESTS[name]
    try:
        parsed = guest.parse_input(data)
    except (ZkvmError, ValueError) as exc:
        raise JobUnprovable(f"input is not valid for guest {name}: {exc}") from None
    return Preflight("builtin", name, _builtin_cycles(parsed))


def _builtin_cycles(parsed: object) -> int:
    """Steps of a fib-style built-in: its `n` (rows of the trace)."""
    n = getattr(parsed, "n", None)
    if n is None and isinstance(parsed, dict):
        n = parsed.get("n")
    if n is None and isinstance(parsed, tuple | list) and parsed:
        n = parsed[0]
    return max(1, int(n)) if isinstance(n, int) else 1


__all__ = [
    "FetchError",
    "JobUnprovable",
    "Preflight",
    "data_uri",
    "decode_data_uri",
    "fetch_input",
    "preflight",
    "program_elf",
]
