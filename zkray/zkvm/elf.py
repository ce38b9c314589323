"""Strict ELF32 loader for RV32IM guests, and a minimal writer for tests and generated programs.

A job names its guest by image id, so the loader is the first thing that touches untrusted bytes:
every malformed input must become an `ElfError` that names the problem, never an `IndexError` or a
`struct.error` from deep inside the parser.

Only what a statically linked RV32IM executable needs is accepted: ELF32, little-endian, `EM_RISCV`,
`ET_EXEC`, no compressed (RVC) code, no float ABI, no interpreter, `PT_LOAD` segments that lie inside
the guest address space and do not overlap, and an entry point inside a loaded segment.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass

from zkray.zkvm.errors import ZkvmError

# The guest address space (see docs/guest-abi.md): one flat region; the first page is a guard.
MEMORY_START = 0x0000_1000
MEMORY_END = 0x1000_0000

MiB = 1 << 20

_EHDR = struct.Struct("<16sHHIIIIIHHHHHH")  # Elf32_Ehdr, 52 bytes
_PHDR = struct.Struct("<IIIIIIII")  # Elf32_Phdr, 32 bytes

ET_EXEC = 2
EM_RISCV = 243
PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
PF_X, PF_W, PF_R = 1, 2, 4
EF_RISCV_RVC = 0x1
EF_RISCV_FLOAT_ABI = 0x6
MAX_PROGRAM_HEADERS = 256


class ElfError(ZkvmError):
    """The bytes are not a loadable RV32IM guest; the message names the field and the fix."""


@dataclass(frozen=True)
class ElfLimits:
    """Bounds that keep a hostile ELF from exhausting memory; every size is in bytes."""

    max_file_size: int = 128 * MiB
    max_image_size: int = 128 * MiB  # sum of the segments' memory sizes (file bytes plus zero fill)


@dataclass(frozen=True)
class Segment:
    """One loaded region: `data` is the file bytes followed by the zero fill up to the memory size."""

    address: int
    data: bytes
    flags: int = PF_R | PF_W | PF_X

    @property
    def end(self) -> int:
        return self.address + len(self.data)


@dataclass(frozen=True)
class Program:
    """A loaded guest: its entry point and its segments, sorted by address and disjoint."""

    entry: int
    segments: tuple[Segment, ...]

    @property
    def image_size(self) -> int:
        return sum(len(s.data) for s in self.segments)


def load_elf(elf: bytes, limits: ElfLimits | None = None) -> Program:
    """Parse `elf` into a `Program`, refusing anything that is not a well-formed RV32IM executable."""
    limits = limits or ElfLimits()
    if not isinstance(elf, bytes | bytearray | memoryview):
        raise ElfError(f"expected the ELF as bytes, got {type(elf).__name__}")
    elf = bytes(elf)
    if len(elf) > limits.max_file_size:
        raise ElfError(f"file is {len(elf)} bytes, over the {limits.max_file_size}-byte limit")
    if len(elf) < _EHDR.size:
        raise ElfError(f"truncated ELF header: file is {len(elf)} bytes, the header needs {_EHDR.size}")
    (ident, e_type, e_machine, e_version, e_entry, e_phoff, _shoff, e_flags, e_ehsize, e_phentsize,
     e_phnum, _shentsize, _shnum, _shstrndx) = _EHDR.unpack_from(elf, 0)
    _check_ident(ident)
    if e_type != ET_EXEC:
        raise ElfError(f"e_type is {e_type}, expected ET_EXEC (2): link the guest statically, not as PIE")
    if e_machine != EM_RISCV:
        raise ElfError(f"e_machine is {e_machine}, expected EM_RISCV (243)")
    if e_version != 1:
        raise ElfError(f"e_version is {e_version}, expected 1")
    if e_ehsize < _EHDR.size:
        raise ElfError(f"e_ehsize is {e_ehsize}, smaller than the {_EHDR.size}-byte ELF32 header")
    if e_flags & EF_RISCV_RVC:
        raise ElfError("the ELF uses compressed (RVC) instructions; build with -march=rv32im")
    if e_flags & EF_RISCV_FLOAT_ABI:
        raise ElfError("the ELF uses a hardware float ABI; build with -mabi=ilp32")
    segments = _load_segments(elf, e_phoff, e_phentsize, e_phnum, limits)
    if e_entry % 4:
        raise ElfError(f"entry point {e_entry:#x} is not 4-byte aligned")
    if not any(s.address <= e_entry < s.end and s.flags & PF_X for s in segments):
        raise ElfError(f"entry point {e_entry:#x} is not inside an executable PT_LOAD segment")
    return Program(entry=e_entry, segments=segments)


def _check_ident(ident: bytes) -> None:
    if ident[:4] != b"\x7fELF":
        raise ElfError(f"bad magic {ident[:4]!r}: not an ELF file")
    if ident[4] != 1:
        raise ElfError(f"EI_CLASS is {ident[4]}, expected ELFCLASS32 (1): build with -march=rv32im")
    if ident[5] != 1:
        raise ElfError(f"EI_DATA is {ident[5]}, expected little-endian (1)")
    if ident[6] != 1:
        raise ElfError(f"EI_VERSION is {ident[6]}, expected 1")


def _load_segments(
    elf: bytes, phoff: int, phentsize: int, phnum: int, limits: ElfLimits
) -> tuple[Segment, ...]:
    if phnum == 0:
        raise ElfError("no program headers: nothing to load")
    if phnum > MAX_PROGRAM_HEADERS:
        raise ElfError(f"{phnum} program headers, over the limit of {MAX_PROGRAM_HEADERS}")
    if phentsize != _PHDR.size:
        raise ElfError(f"e_phentsize is {phentsize}, expected {_PHDR.size}")
    if phoff + phnum * phentsize > len(elf):
        raise ElfError(f"truncated program header table: needs bytes up to {phoff + phnum * phentsize}, "
                       f"file is {len(elf)} bytes")
    segments: list[Segment] = []
    total = 0
    for i in range(phnum):
        p_type, offset, vaddr, _paddr, filesz, memsz, flags, _align = _PHDR.unpack_from(elf, phoff + i * 32)
        if p_type in (PT_INTERP, PT_DYNAMIC):
            raise ElfError(f"program header {i} asks for dynamic linking; link the guest with -static")
        if p_type != PT_LOAD or memsz == 0:
            continue
        if filesz > memsz:
            raise ElfError(f"segment {i}: p_filesz {filesz} exceeds p_memsz {memsz}")
        if offset + filesz > len(elf):
            raise ElfError(f"segment {i}: file bytes [{offset}, {offset + filesz}) run past the end of "
                           f"the {len(elf)}-byte file (truncated ELF?)")
        if vaddr < MEMORY_START or vaddr + memsz > MEMORY_END:
            raise ElfError(f"segment {i}: [{vaddr:#x}, {vaddr + memsz:#x}) is outside guest memory "
                           f"[{MEMORY_START:#x}, {MEMORY_END:#x})")
        total += memsz
        if total > limits.max_image_size:
            raise ElfError(f"loaded image exceeds the {limits.max_image_size}-byte limit")
        data = elf[offset:offset + filesz] + bytes(memsz - filesz)
        segments.append(Segment(address=vaddr, data=data, flags=flags))
    if not segments:
        raise ElfError("no PT_LOAD segment with a non-zero size: nothing to load")
    segments.sort(key=lambda s: s.address)
    for a, b in itertools.pairwise(segments):
        if b.address < a.end:
            raise ElfError(f"segments overlap: [{a.address:#x}, {a.end:#x}) and [{b.address:#x}, {b.end:#x})")
    return tuple(segments)


def write_elf(entry: int, segments: list[tuple[int, bytes, int]]) -> bytes:
    """A minimal ET_EXEC ELF32 for RISC-V: `segments` are (address, bytes, flags), one PT_LOAD each.

    Used to build random test programs without the cross compiler; file offsets are kept congruent to
    addresses modulo 4 KiB so `qemu-riscv32` can map them.
    """
    phoff = _EHDR.size
    offset = phoff + _PHDR.size * len(segments)
    headers, bodies = [], []
    for address, data, flags in segments:
        offset += (address - offset) % 0x1000
        headers.append(_PHDR.pack(PT_LOAD, offset, address, address, len(data), len(data), flags, 0x1000))
        bodies.append((offset, data))
        offset += len(data)
    ident = b"\x7fELF\x01\x01\x01" + bytes(9)
    out = bytearray(_EHDR.pack(ident, ET_EXEC, EM_RISCV, 1, entry, phoff, 0, 0, _EHDR.size, _PHDR.size,
                               len(segments), 40, 0, 0))
    out += b"".join(headers)
    for at, data in bodies:
        out += bytes(at - len(out)) + data
    return bytes(out)
