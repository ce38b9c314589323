"""The `zkray` command line, run as a user would: a real subprocess, real files."""

import subprocess
import sys
from pathlib import Path

import zkray

REPO = Path(__file__).resolve().parent.parent


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "zkray.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_guests_lists_image_ids():
    out = run("guests")
    assert out.returncode == 0
    for name, image_id in zkray.guests().items():
        assert name in out.stdout and image_id.hex() in out.stdout


def test_prove_then_verify_then_tamper(tmp_path):
    receipt = tmp_path / "fib.receipt"
    out = run("prove", "fib", "--input", '{"n": 1000}', "-o", str(receipt))
    assert out.returncode == 0, out.stderr
    assert "output" in out.stdout and receipt.exists()
    ok = run("verify", str(receipt), "--image-id", zkray.guests()["fib"].hex())
    assert ok.returncode == 0, ok.stderr
    assert "verified" in ok.stdout
    wrong_id = run("verify", str(receipt), "--image-id", zkray.guests()["fib_input_initial"].hex())
    assert wrong_id.returncode == 1 and "NOT verified" in wrong_id.stderr
    data = bytearray(receipt.read_bytes())
    data[len(data) // 2] ^= 0x40
    bad = tmp_path / "bad.receipt"
    bad.write_bytes(bytes(data))
    rejected = run("verify", str(bad))
    assert rejected.returncode == 1 and "NOT verified" in rejected.stderr
    missing = run("verify", str(tmp_path / "nope.receipt"))
    assert missing.returncode == 1


def test_bad_input_is_a_clear_error():
    out = run("prove", "fib", "--input", '{"n": -4}')
    assert out.returncode == 2 and "must be an integer" in out.stderr


def test_execute_an_elf_guest():
    out = run("execute", str(REPO / "guest" / "fib.elf"), "--u32", "9")
    assert out.returncode == 0, out.stderr
    assert "exit code 0" in out.stdout


def test_serve_demo_runs(tmp_path):
    # The embedded default, bounded: devnet + demo requester + node; exits 0 once all 3 jobs are paid.
    cmd = [sys.executable, "-m", "zkray.serve", "--jobs", "3", "--interval", "0.2", "--exit-when-done",
           "--no-progress", "--timeout", "240"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "posted=3 completed=3" in out.stdout and "paid=3" in out.stdout
