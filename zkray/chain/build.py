"""Compile the engine's Solidity contracts offline with the pinned solc-js and write the committed artifacts.

Run `python -m zkray.chain.build` after changing a contract; `--check` exits 1 when the committed
artifacts differ from a fresh compile (the test suite runs the same check).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from zkray.chain.artifacts import ARTIFACT_DIR, CONTRACTS_DIR
from zkray.chain.errors import BuildError

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPILER_SCRIPT = Path(__file__).with_name("solc_compile.cjs")
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    # Cancun is what every chain zkray targets supports; newer opcodes are not needed.
    "evmVersion": "cancun",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}


def standard_input() -> dict[str, Any]:
    """solc standard-JSON input for every .sol file under contracts/, named relative to it."""
    sources = {
        f"contracts/{p.relative_to(CONTRACTS_DIR).as_posix()}": {"content": p.read_text()}
        for p in sorted(CONTRACTS_DIR.rglob("*.sol"))
    }
    return {"language": "Solidity", "sources": sources, "settings": SETTINGS}


def compile_contracts() -> dict[str, dict[str, Any]]:
    """Compile all contracts; returns artifact name -> {contractName, sourceName, compiler, abi, bytecode}."""
    node = shutil.which("node")
    if node is None or not (REPO_ROOT / "node_modules" / "solc").is_dir():
        raise BuildError("node and the pinned npm packages are needed: run scripts/setup.sh")
    proc = subprocess.run(
        [node, str(COMPILER_SCRIPT), str(REPO_ROOT)],
        input=json.dumps(standard_input()),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if proc.returncode != 0:
        raise BuildError(f"solc-js failed: {proc.stderr.strip()[-2000:]}")
    result = json.loads(proc.stdout)
    output = result["output"]
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise BuildError("compilation failed:\n" + "\n".join(e["formattedMessage"] for e in errors))
    artifacts: dict[str, dict[str, Any]] = {}
    for source, contracts in output["contracts"].items():
        if not source.startswith("contracts/"):  # OpenZeppelin libraries are inlined, not deployed
            continue
        for name, data in contracts.items():
            bytecode = data["evm"]["bytecode"]["object"]
            if not bytecode:  # interfaces have nothing to deploy; their ABI lives in the implementers
                continue
            artifacts[name] = {
                "contractName": name,
                "sourceName": source,
                "compiler": result["version"],
                "abi": data["abi"],
                "bytecode": "0x" + bytecode,
            }
    return artifacts


def render(artifact: dict[str, Any]) -> str:
    """The canonical text of an artifact file, so that a fresh build compares byte for byte."""
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def stale_artifacts(fresh: dict[str, dict[str, Any]]) -> list[str]:
    """Names of artifacts whose committed file is missing, different, or no longer produced."""
    stale = [n for n, a in fresh.items() if _read(ARTIFACT_DIR / f"{n}.json") != render(a)]
    stale += [p.stem for p in ARTIFACT_DIR.glob("*.json") if p.stem not in fresh]
    return sorted(stale)


def write_artifacts(fresh: dict[str, dict[str, Any]]) -> None:
    ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    for p in ARTIFACT_DIR.glob("*.json"):
        if p.stem not in fresh:
            p.unlink()
    for name, artifact in fresh.items():
        (ARTIFACT_DIR / f"{name}.json").write_text(render(artifact))


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zkray.chain.build", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare with the committed artifacts")
    args = parser.parse_args(argv)
    fresh = compile_contracts()
    if args.check:
        stale = stale_artifacts(fresh)
        if stale:
            print(f"stale artifacts: {', '.join(stale)}; run python -m zkray.chain.build", file=sys.stderr)
            return 1
        print(f"{len(fresh)} artifacts up to date")
        return 0
    write_artifacts(fresh)
    print(f"wrote {len(fresh)} artifacts to {ARTIFACT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
