"""The policy layer stays pure: no Ray, no I/O modules, no clock reads; its public surface is complete."""

from __future__ import annotations

import ast
from pathlib import Path

import zkray.policy as policy

POLICY_DIR = Path(policy.__file__).parent
FORBIDDEN_IMPORTS = {
    *("ray", "socket", "sqlite3", "aiohttp", "web3", "requests", "asyncio", "subprocess", "threading", "time")
}
CLOCK_CALLS = {("time", "time"), ("time", "monotonic"), ("datetime", "now"), ("datetime", "utcnow")}


def test_policy_modules_import_nothing_that_does_io_or_reads_clocks() -> None:
    for path in POLICY_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            else:
                names = set()
            assert not names & FORBIDDEN_IMPORTS, f"{path.name} imports {names & FORBIDDEN_IMPORTS}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert (node.value.id, node.attr) not in CLOCK_CALLS, f"{path.name} reads the clock"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"open", "print", "input"}, f"{path.name} calls {node.func.id}"


def test_the_public_surface_exports_what_the_node_uses() -> None:
    assert all(hasattr(policy, name) for name in policy.__all__)
    assert len(set(policy.__all__)) == len(policy.__all__)
    for name in ("CircuitBreaker", "BoundedPriorityQueue", "JobStatus", "Retrier", "TokenBucket", "HashRing"):
        assert name in policy.__all__
