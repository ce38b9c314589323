"""`zkray.prove` on ELF guests (bytes or a path), `zkray.verify` with the ELF, and the CLI's --elf forms."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

import zkray

sys.path.insert(0, str(Path(__file__).parent / "zkvm"))
from test_rv32im_air_programs import loop

SEGMENT = 1 << 10
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def elf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("elf") / "loop.elf"
    path.write_bytes(loop(150))  # 1,358 cycles: two segments of 2^10
    return path


@pytest.fixture(scope="module")
def receipt(elf_path: Path) -> zkray.Receipt:
    return zkray.prove(str(elf_path), b"", segment_cycles=SEGMENT)


def test_prove_an_elf_path_and_verify_with_it(elf_path: Path, receipt: zkray.Receipt) -> None:
    session = zkray.execute(elf_path.read_bytes(), trace=False)
    assert receipt.is_composite and receipt.image_id == session.image_id and receipt.journal == session.journal
    assert zkray.verify(receipt.encode(), program=elf_path, exit_code=session.exit_code) == receipt
    zkray.verify(receipt, session.image_id, program=elf_path.read_bytes(), exit_code=None, input=b"")
    with pytest.raises(zkray.VerificationError, match="exited with code"):
        zkray.verify(receipt, program=elf_path)  # exit code 0 is the default expectation


def test_an_elf_receipt_needs_its_elf(elf_path: Path, receipt: zkray.Receipt, tmp_path: Path) -> None:
    with pytest.raises(zkray.VerificationError, match="pass program="):
        zkray.verify(receipt)
    other = tmp_path / "other.elf"
    other.write_bytes(loop(151))
    with pytest.raises(zkray.VerificationError, match="the ELF given has image"):
        zkray.verify(receipt, program=other, exit_code=None)
    with pytest.raises(zkray.VerificationError, match="expected"):
        zkray.verify(receipt, zkray.guests()["fib"], program=elf_path, exit_code=None)


def test_a_bundled_guest_reads_input_and_writes_its_journal_across_segments() -> None:
    """guest/sort.elf: input and journal ECALLs in a three-segment run, given as ELF bytes."""
    elf = (REPO / "guest" / "sort.elf").read_bytes()
    items = [(i * 2654435761) % 1000 for i in range(40)]
    data = b"".join(struct.pack("<I", v) for v in items)
    assert zkray.plan_segments(elf, data, segment_cycles=1 << 11).segments == 3
    receipt = zkray.prove(elf, data, segment_cycles=1 << 11)
    assert receipt.journal == b"".join(struct.pack("<I", v) for v in sorted(items))
    receipt.verify(program=elf, input=data)  # exit code 0, and it consumed exactly this input
    with pytest.raises(zkray.VerificationError, match="not a prefix"):
        receipt.verify(program=elf, input=data[:-4] + b"\xff\xff\xff\xff")
    with pytest.raises(zkray.VerificationError, match=f"input of {len(data)} bytes"):  # the run's input length
        receipt.verify(program=elf, input=data + b"\x00\x00\x00\x00")
    forged = zkray.Receipt(receipt.image_id, b"".join(struct.pack("<I", v) for v in sorted(items)[::-1]), receipt.seal)
    with pytest.raises(zkray.VerificationError, match="journal"):
        forged.verify(program=elf)


def test_guest_names_and_inputs_are_checked(elf_path: Path) -> None:
    with pytest.raises(zkray.InputError, match="neither a built-in guest"):
        zkray.prove("no-such-guest", b"")
    with pytest.raises(zkray.InputError, match="input is bytes"):
        zkray.prove(elf_path, {"n": 3})
    with pytest.raises(ValueError, match="power of two"):
        zkray.prove(elf_path, b"", segment_cycles=1000)
    fib = zkray.prove("fib", {"n": 20})  # built-in names prove exactly as before
    assert not fib.is_composite
    fib.verify(zkray.guests()["fib"])


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zkray.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def test_cli_prove_and_verify_an_elf(elf_path: Path, tmp_path: Path) -> None:
    inp = tmp_path / "input.bin"
    inp.write_bytes(b"unused")
    out = _cli("prove", "--elf", str(elf_path), "--input", str(inp), "--segment-cycles", str(SEGMENT), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "2 segment(s)" in out.stdout
    path = tmp_path / "loop.receipt"
    ok = _cli("verify", str(path), "--elf", str(elf_path), "--any-exit-code", "--input", str(inp), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "verified" in ok.stdout
    no_elf = _cli("verify", str(path), cwd=tmp_path)
    assert no_elf.returncode == 1 and "--elf PATH" in no_elf.stderr
    code = _cli("verify", str(path), "--elf", str(elf_path), cwd=tmp_path)
    assert code.returncode == 1 and "exited with code" in code.stderr
    other = tmp_path / "other.elf"
    other.write_bytes(loop(151))
    wrong = _cli("verify", str(path), "--elf", str(other), "--any-exit-code", cwd=tmp_path)
    assert wrong.returncode == 1 and "NOT verified" in wrong.stderr
    both = _cli("prove", "fib", "--elf", str(elf_path), cwd=tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr
