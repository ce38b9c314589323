"""The embedded default (no configuration): a local devnet and a demo requester beside the node, and the
chain target for a real network (keys from files or the environment, never from flags).

The devnet registers the built-in AIR guests and every RV32IM guest bundled in `guest/` (as
`<stem>.elf`, ELF URL `zkray://guest/<stem>`, which the node resolves to this repository's file and
checks against the image id), so the demo posts jobs for both."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from zkray.attest import KEY_ENV as ATTESTER_KEY_ENV
from zkray.chain.devnet import Devnet
from zkray.node.assemble import ChainTarget
from zkray.node.programs import bundled_guests
from zkray.node.requester import DemoRequester
from zkray.node.settings import NodeSettings

PROVER_KEY_ENV = "ZKRAY_PROVER_KEY"


def init_ray(address: str | None) -> None:
    """Connect to `address`, or start a fresh local Ray ("local": never attach to a cluster someone else
    started on this machine); a no-op when this process already did."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False, configure_logging=False)


@dataclass
class Embedded:
    """A devnet with the contracts deployed; the node proves as prover 0, the demo posts as requester 0."""

    devnet: Devnet

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, settings: NodeSettings) -> AsyncIterator[Embedded]:
        devnet = await asyncio.to_thread(Devnet().start)
        try:
            await asyncio.to_thread(register_bundled_guests, devnet)
            yield cls(devnet)
        finally:
            await asyncio.to_thread(devnet.stop)

    @property
    def target(self) -> ChainTarget:
        roles, deployment = self.devnet.roles, self.devnet.deployment
        assert roles is not None and deployment is not None
        return ChainTarget(
            rpc_url=self.devnet.rpc_url, ws_url=self.devnet.ws_url, engine=deployment.engine,
            prover_key=roles.provers[0].key, attester_keys=tuple(a.key for a in roles.attesters),
            verifier=deployment.verifier,
        )  # fmt: skip

    def requester(self, settings: NodeSettings) -> DemoRequester:
        roles, deployment = self.devnet.roles, self.devnet.deployment
        assert roles is not None and deployment is not None
        elf_guests = {g.name: g.image_id for g in bundled_guests().values()}
        return DemoRequester(
            self.devnet.rpc_url, deployment.engine, roles.requesters[0].key, settings.demo, elf_guests=elf_guests
        )


def register_bundled_guests(devnet: Devnet) -> dict[str, bytes]:
    """Register the ELF guests of `guest/` with the devnet's registry; returns registry name -> image id."""
    registered = {}
    for guest in bundled_guests().values():
        devnet.register_program(guest.name, guest.image_id, guest.elf_url)
        registered[guest.name] = guest.image_id
    return registered


def external_target(settings: NodeSettings, env: Mapping[str, str]) -> ChainTarget:
    """The chain target of `--rpc-url ... --engine ... --key-file ...` (keys from files or environment)."""
    assert settings.rpc_url is not None and settings.engine is not None
    prover_key = _key(settings.key_file, env, PROVER_KEY_ENV, "prover")
    attesters = tuple(_read(p) for p in settings.attester_key_files)
    if not attesters and env.get(ATTESTER_KEY_ENV):
        attesters = (env[ATTESTER_KEY_ENV].strip(),)
    if not attesters:
        raise ValueError(f"no attester key: pass --attester-key-file or set {ATTESTER_KEY_ENV}")
    return ChainTarget(settings.rpc_url, settings.engine, prover_key, attesters, ws_url=settings.ws_url)


def _key(path: Path | None, env: Mapping[str, str], name: str, role: str) -> str:
    if path is not None:
        return _read(path)
    value = env.get(name, "").strip()
    if not value:
        raise ValueError(f"no {role} key: pass --key-file or set {name}")
    return value


def _read(path: Path) -> str:
    return Path(path).read_text().strip()
