"""The public surface: what `import zkray` promises, and the layering rule of the proof system."""

import ast
from pathlib import Path

import zkray

ZKVM = Path(zkray.__file__).parent / "zkvm"


def test_all_names_exist_and_nothing_else_is_promised():
    for name in zkray.__all__:
        assert hasattr(zkray, name), name
    assert {"prove", "verify", "execute", "guests", "Receipt", "Session", "VerificationError",
            "ReceiptError", "ElfError"} <= set(zkray.__all__)
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
