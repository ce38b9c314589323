"""Ray stays at the edge: in the actors and the proving package only the factory and runtime modules
import it; actors never import the node layer; the proving surface is complete."""

from __future__ import annotations

import ast
from pathlib import Path

import actors.breakers
import zkray.node.proving as proving
from zkray.fetch.race import gateway_breaker_name

ROOT = Path(__file__).resolve().parents[2]
RAY_ALLOWED = {
    "actors/factory.py",  # applies ray.remote to the plain classes
    "actors/object_store.py",  # the one wrapper of ray.put / ray.get for the caches
    "actors/nonce_manager.py",  # the chain's actor, with its own factory function
    "zkray/node/proving/runtime.py",  # the one wrapper of the pool's Ray calls
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


def test_only_the_factory_and_runtime_modules_import_ray() -> None:
    # the state actors and the proving package; the node's entry point (ray.init) is the wiring's edge
    files = [*(ROOT / "actors").glob("*.py"), *(ROOT / "zkray" / "node" / "proving").rglob("*.py")]
    assert len(files) > 10
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if rel not in RAY_ALLOWED:
            assert "ray" not in _imports(path), f"{rel} imports ray; move the Ray call behind a wrapper"


def test_actors_never_import_the_node_layer_above_them() -> None:
    for path in (ROOT / "actors").glob("*.py"):
        tree = ast.parse(path.read_text())
        modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in modules if m.startswith(("zkray.node", "zkray.serve", "zkray.api"))], path.name
    # the registry reads gateway health from the breakers the fetch adapter names
    assert gateway_breaker_name("https://gw.example").startswith(actors.breakers.GATEWAY_PREFIX)


def test_the_proving_surface_exports_what_it_lists() -> None:
    assert all(hasattr(proving, name) for name in proving.__all__)
    assert len(set(proving.__all__)) == len(proving.__all__)
