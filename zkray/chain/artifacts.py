"""The committed ABI and bytecode of the engine's contracts (built by `python -m zkray.chain.build`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from zkray.chain.errors import BuildError

CONTRACTS_DIR = Path(__file__).with_name("contracts")
ARTIFACT_DIR = Path(__file__).with_name("artifacts")


@cache
def artifact(name: str) -> dict[str, Any]:
    """The artifact of contract `name` (e.g. "ExecutionEngine"): abi, bytecode, compiler version."""
    path = ARTIFACT_DIR / f"{name}.json"
    if not path.exists():
        raise BuildError(f"no artifact for {name!r} in {ARTIFACT_DIR}: run python -m zkray.chain.build")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def abi(name: str) -> list[dict[str, Any]]:
    return list(artifact(name)["abi"])


def bytecode(name: str) -> str:
    return str(artifact(name)["bytecode"])
