"""Image id: the digest a job uses to name its guest.

    image_id = SHA-256( b"zkray.rv32im.image.v1\\0"
                        || u32le(entry)
                        || u32le(number of runs)
                        || for each run, by ascending address: u32le(address) || u32le(length) || bytes )

A *run* is a maximal stretch of contiguous loaded memory: segments that touch are merged first, so the
id depends only on what is loaded where (including the zero fill of `.bss`) and on the entry point,
not on how the linker split it into program headers. docs/guest-abi.md repeats this definition.
"""

from __future__ import annotations

import hashlib
import struct

from zkray.zkvm.elf import Program

IMAGE_ID_DOMAIN = b"zkray.rv32im.image.v1\x00"


def memory_runs(program: Program) -> list[tuple[int, bytes]]:
    """The loaded image as maximal contiguous (address, bytes) runs, by ascending address."""
    runs: list[tuple[int, bytearray]] = []
    for seg in program.segments:  # sorted and disjoint, guaranteed by the loader
        if runs and runs[-1][0] + len(runs[-1][1]) == seg.address:
            runs[-1][1].extend(seg.data)
        else:
            runs.append((seg.address, bytearray(seg.data)))
    return [(address, bytes(data)) for address, data in runs]


def image_id(program: Program) -> bytes:
    """The 32-byte image id of a loaded program (definition in the module docstring)."""
    runs = memory_runs(program)
    h = hashlib.sha256(IMAGE_ID_DOMAIN)
    h.update(struct.pack("<II", program.entry, len(runs)))
    for address, data in runs:
        h.update(struct.pack("<II", address, len(data)))
        h.update(data)
    return h.digest()
