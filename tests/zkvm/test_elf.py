"""The ELF loader: strict about malformed files (always `ElfError`, never another exception), and the
image id: stable, sensitive to every loaded byte, blind to how segments are split."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkray import ElfError
from zkray.zkvm.elf import PF_R, PF_W, PF_X, ElfLimits, Program, load_elf, write_elf
from zkray.zkvm.rv32im import ExecutionError, execute, image_id

GUEST = Path(__file__).resolve().parents[2] / "guest"
FIB = (GUEST / "fib.elf").read_bytes()
SORT = (GUEST / "sort.elf").read_bytes()
RX, RW = PF_R | PF_X, PF_R | PF_W
ECALL_EXIT = bytes.fromhex("9308d005") + bytes.fromhex("73000000")  # li a7, 93 ; ecall


def patched(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


def tiny(entry: int = 0x10000, segments: list[tuple[int, bytes, int]] | None = None) -> bytes:
    return write_elf(entry, segments or [(0x10000, ECALL_EXIT, RX)])


def test_loads_a_guest() -> None:
    program = load_elf(FIB)
    assert isinstance(program, Program)
    assert program.entry == 0x10000
    assert [s.address for s in program.segments] == [0x10000, 0x11000]
    assert program.segments[1].data == bytes(len(program.segments[1].data))  # .bss is zero fill


def test_written_elf_loads_and_runs() -> None:
    session = execute(tiny(), b"")
    assert (session.exit_code, session.cycles) == (0, 2)


MALFORMED = {
    "bad magic": (b"\x7fELG" + FIB[4:], "bad magic"),
    "64-bit": (patched(FIB, 4, "B", 2), "ELFCLASS32"),
    "big-endian": (patched(FIB, 5, "B", 2), "little-endian"),
    "ident version": (patched(FIB, 6, "B", 0), "EI_VERSION"),
    "shared object": (patched(FIB, 16, "<H", 3), "ET_EXEC"),
    "x86": (patched(FIB, 18, "<H", 62), "EM_RISCV"),
    "version": (patched(FIB, 20, "<I", 2), "e_version"),
    "compressed": (patched(FIB, 36, "<I", 1), "RVC"),
    "hard float": (patched(FIB, 36, "<I", 4), "float ABI"),
    "no program headers": (patched(FIB, 44, "<H", 0), "no program headers"),
    "phentsize": (patched(FIB, 42, "<H", 31), "e_phentsize"),
    "phoff past end": (patched(FIB, 28, "<I", len(FIB)), "truncated program header table"),
    "too many headers": (patched(FIB, 44, "<H", 5000), "over the limit"),
    "unaligned entry": (patched(FIB, 24, "<I", 0x10002), "not 4-byte aligned"),
    "entry outside": (patched(FIB, 24, "<I", 0x50000), "not inside an executable"),
    "entry in data": (patched(FIB, 24, "<I", 0x11000), "not inside an executable"),
    "empty": (b"", "truncated ELF header"),
    "header only": (FIB[:52], "truncated program header table"),
    "cut segment": (FIB[:0x1010], "run past the end"),
    "overlap": (write_elf(0x10000, [(0x10000, ECALL_EXIT, RX), (0x10004, b"\0" * 8, RW)]), "overlap"),
    "below memory": (write_elf(0x10000, [(0x10000, ECALL_EXIT, RX), (0x0, b"\0" * 8, RW)]), "outside guest"),
    "above memory": (write_elf(0x10000, [(0x10000, ECALL_EXIT, RX), (0xFFFF_FFF0, b"\0" * 8, RW)]),
                     "outside guest"),
    "filesz > memsz": (patched(tiny(), 52 + 20, "<I", 4), "exceeds p_memsz"),
    "interpreter": (patched(tiny(), 52, "<I", 3), "dynamic linking"),
    "nothing loaded": (patched(tiny(), 52, "<I", 6), "nothing to load"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_elf_is_refused_with_a_named_problem(case: str) -> None:
    data, message = MALFORMED[case]
    with pytest.raises(ElfError, match=message):
        load_elf(data)


def test_limits_are_enforced() -> None:
    with pytest.raises(ElfError, match="over the 1000-byte limit"):
        load_elf(FIB, ElfLimits(max_file_size=1000))
    with pytest.raises(ElfError, match="loaded image exceeds"):
        load_elf(SORT, ElfLimits(max_image_size=64 * 1024))  # sort's .bss holds 256 KiB of items
    huge_bss = patched(tiny(), 52 + 20, "<I", 200 << 20)  # p_memsz 200 MiB, over the 128 MiB default
    with pytest.raises(ElfError, match="loaded image exceeds"):
        load_elf(huge_bss)


def test_not_bytes_is_refused() -> None:
    with pytest.raises(ElfError, match="expected the ELF as bytes"):
        load_elf("fib.elf")  # type: ignore[arg-type]


def _outcome(data: bytes) -> None:
    """Load must either succeed or raise ElfError; running what loads may only raise zkvm errors."""
    try:
        program = load_elf(data)
    except ElfError:
        return
    try:
        execute(program, b"\x05\x00\x00\x00", cycle_limit=5_000, trace=False)
    except ExecutionError:
        pass


def test_corpus_of_truncated_and_bit_flipped_guests() -> None:
    # where fib's last loaded file byte lies; the symbol table and section headers follow it
    phoff, phnum = struct.unpack_from("<I", FIB, 28)[0], struct.unpack_from("<H", FIB, 44)[0]
    loaded_end = max(off + filesz for p_type, off, _v, _p, filesz, *_ in
                     (struct.unpack_from("<8I", FIB, phoff + 32 * i) for i in range(phnum)) if p_type == 1)
    assert 0x1000 < loaded_end < len(FIB)
    for length in [*range(0, 200), *range(200, loaded_end, 37)]:
        with pytest.raises(ElfError):
            load_elf(FIB[:length])
    for length in range(loaded_end, len(FIB), 101):  # sections past the loaded bytes are not needed
        assert load_elf(FIB[:length]) == load_elf(FIB)
    rng = random.Random(11)
    for _ in range(600):
        data = bytearray(FIB)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(200) if rng.random() < 0.7 else rng.randrange(len(data))
            data[pos] ^= 1 << rng.randrange(8)
        _outcome(bytes(data))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_but_elf_error(data: bytes) -> None:
    _outcome(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(FIB) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_guest_never_raises_anything_but_zkvm_errors(edits: list[tuple[int, int]]) -> None:
    data = bytearray(FIB)
    for pos, value in edits:
        data[pos] = value
    _outcome(bytes(data))


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=52, max_size=52), st.binary(min_size=32, max_size=96))
def test_fuzzed_headers_never_raise_anything_but_elf_error(ehdr: bytes, phdrs: bytes) -> None:
    data = b"\x7fELF\x01\x01\x01" + ehdr[7:] + phdrs + FIB[52 + len(phdrs):]
    _outcome(data)


# ---- image id ----------------------------------------------------------------------------------

def test_image_id_is_stable_and_32_bytes() -> None:
    a, b = image_id(load_elf(FIB)), image_id(load_elf(bytes(FIB)))
    assert a == b and len(a) == 32
    assert image_id(load_elf(SORT)) != a
    assert execute(FIB, b"\x01\x00\x00\x00").image_id == a


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_changed_loaded_byte_changes_the_image_id(data: st.DataObject) -> None:
    program = load_elf(FIB)
    seg_index = data.draw(st.integers(0, len(program.segments) - 1))
    seg = program.segments[seg_index]
    pos = data.draw(st.integers(0, len(seg.data) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = bytearray(seg.data)
    changed[pos] ^= flip
    segments = list(program.segments)
    segments[seg_index] = type(seg)(seg.address, bytes(changed), seg.flags)
    assert image_id(Program(program.entry, tuple(segments))) != image_id(program)


def test_image_id_covers_entry_and_addresses_but_not_segment_splitting() -> None:
    code = ECALL_EXIT * 4
    whole = image_id(load_elf(write_elf(0x10000, [(0x10000, code, RX)])))
    split = image_id(load_elf(write_elf(0x10000, [(0x10000, code[:8], RX), (0x10008, code[8:], RX)])))
    assert whole == split
    assert image_id(load_elf(write_elf(0x10008, [(0x10000, code, RX)]))) != whole
    assert image_id(load_elf(write_elf(0x20000, [(0x20000, code, RX)]))) != whole
    assert image_id(load_elf(write_elf(0x10000, [(0x10000, code + bytes(4), RX)]))) != whole
