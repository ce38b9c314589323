"""The public surface: what `import zkray` promises, and the layering rule of the proof system."""

import ast
from pathlib import Path

import zkray

ZKVM = Path(zkray.__file__).parent / "zkvm"


def test_all_names_exist_and_nothing_else_is_promised():
    for name in zkray.__all__:
        assert hasattr(zkray, name), name
    assert {"prove", "verify", "execute", "guests", "Receipt", "Session", "VerificationError",
            "ReceiptError", "ElfError", "plan_segments", "prove_segment_receipt", "compose",
            "DEFAULT_SEGMENT_CYCLES"} <= set(zkray.__all__)
    assert len(zkray.__all__) == len(set(zkray.__all__))


def test_proof_system_never_imports_ray_or_does_io():
    forbidden = {"ray", "aiohttp", "requests", "socket", "sqlite3", "subprocess", "web3", "urllib", "http"}
    for path in ZKVM.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"


def test_verifier_never_imports_the_prover():
    source = (ZKVM / "verifier.py").read_text()
    assert "zkray.zkvm.prover" not in source and "from zkray.zkvm import prover" not in source


def test_segment_fan_out_is_public_and_pure():
    """What a Ray user needs to spread an ELF guest's segments: a plan, a pure per-segment function from
    bytes to bytes (so it ships to any worker), and a join; the default segment fits the verifier."""
    import inspect

    params = inspect.signature(zkray.prove_segment_receipt).parameters
    assert list(params)[:4] == ["elf", "input", "index", "segment_cycles"]
    assert list(inspect.signature(zkray.compose).parameters)[:2] == ["elf", "segments"]
    from zkray.node.config import MAX_SEGMENT_CYCLES
    from zkray.zkvm.multi.protocol import security_bits
    from zkray.zkvm.params import DEFAULT_PARAMS, MIN_SECURITY_BITS
    from zkray.zkvm.rv32im_air import SEGMENT_CHIPS

    n = zkray.DEFAULT_SEGMENT_CYCLES
    assert n & (n - 1) == 0 and 1 << 10 <= n <= MAX_SEGMENT_CYCLES
    # the worst case of the largest segment a node plans: every chip as tall as the CPU (or the 2^16-row byte
    # table) and 2^16 public tuples; the verifier refuses anything below MIN_SECURITY_BITS
    log_n = max(16, MAX_SEGMENT_CYCLES.bit_length() - 1)
    assert security_bits(DEFAULT_PARAMS, SEGMENT_CHIPS, [log_n] * len(SEGMENT_CHIPS), 1 << 16) >= MIN_SECURITY_BITS


def test_composite_verification_loads_no_witness_generator():
    """Verifying a composite receipt needs the segment AIR's verifier, never the prover's witness code."""
    import subprocess
    import sys

    code = ("import sys, zkray.zkvm.continuation.verify; "
            "print(sorted(m for m in sys.modules if m.endswith(('rv32im_air.witness', 'continuation.prove'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "rv32im_air.witness" not in out.stdout
