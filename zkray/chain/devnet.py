"""A local chain for laptops and tests: anvil (npm, pinned; see docs/chain.md) on an ephemeral loopback
port, with the engine, registry and attestation verifier deployed, the built-in guests registered and
prover, requester and attester accounts funded.

`zkray devnet` (or `python -m zkray.chain.devnet`) runs one until interrupted and prints its RPC URL and
addresses; tests use `Devnet` as a fixture.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from eth_account import Account
from web3 import HTTPProvider, Web3

from zkray.chain.artifacts import abi, bytecode
from zkray.chain.errors import DevnetError

REPO_ROOT = Path(__file__).resolve().parents[2]
# anvil's well-known test mnemonic: its accounts are funded at genesis with `balance` ether each.
MNEMONIC = "test test test test test test test test test test test junk"
START_TIMEOUT_S = 30.0
Account.enable_unaudited_hdwallet_features()


@dataclass(frozen=True)
class DevAccount:
    """A funded devnet account; its key is public (anvil's test mnemonic): never use it elsewhere."""

    address: str
    key: str


@dataclass(frozen=True)
class Deployment:
    """Addresses of the deployed contracts and the registered guests (name -> 0x image id)."""

    chain_id: int
    engine: str
    registry: str
    verifier: str
    recording_callback: str
    reverting_callback: str
    guests: dict[str, str]
    attester_threshold: int


@dataclass
class Roles:
    owner: DevAccount
    provers: list[DevAccount] = field(default_factory=list)
    requesters: list[DevAccount] = field(default_factory=list)
    attesters: list[DevAccount] = field(default_factory=list)
    spare: list[DevAccount] = field(default_factory=list)


def anvil_binary() -> Path:
    """The anvil executable from the pinned npm package (the platform package holds the real binary)."""
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())
    system = {"linux": "linux", "darwin": "darwin"}.get(sys.platform)
    candidates = []
    if arch and system:
        candidates.append(REPO_ROOT / f"node_modules/@foundry-rs/anvil-{system}-{arch}/bin/anvil")
    candidates.append(REPO_ROOT / "node_modules/.bin/anvil")
    for path in candidates:
        if path.exists():
            return path
    raise DevnetError(
        f"anvil not found in {REPO_ROOT / 'node_modules'}: run scripts/setup.sh (npm ci); on a platform other"
        " than linux-x64, add the matching @foundry-rs/anvil-<os>-<arch>@1.7.1 to package.json"
    )


def builtin_guests() -> dict[str, bytes]:
    """zkray's built-in guest programs, name -> image id."""
    from zkray import guests  # deferred: the proof system is heavy and the devnet only needs the ids

    return dict(guests())


class Devnet:
    """One anvil process with zkray's contracts deployed. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        block_time: float | None = None,
        accounts: int = 20,
        balance_eth: int = 10_000,
        attesters: int = 3,
        threshold: int = 2,
        guests: Mapping[str, bytes] | None = None,
        port: int = 0,
    ) -> None:
        if attesters < threshold or threshold < 1:
            raise DevnetError(f"need 1 <= threshold ({threshold}) <= attesters ({attesters})")
        if accounts < 8 + attesters:
            raise DevnetError(f"need at least {8 + attesters} accounts for the roles, got {accounts}")
        self._block_time = block_time
        self._n_accounts = accounts
        self._balance_eth = balance_eth
        self._n_attesters = attesters
        self._threshold = threshold
        self._guests = dict(guests) if guests is not None else None
        self._port = port
        self._proc: subprocess.Popen[str] | None = None
        self._log: collections.deque[str] = collections.deque(maxlen=200)
        self.rpc_url = ""
        self.ws_url = ""
        self.roles: Roles | None = None
        self.deployment: Deployment | None = None

    # ---- lifecycle ----

    def start(self) -> Devnet:
        """Start anvil, wait until it listens, deploy and register; raises DevnetError with anvil's output."""
        cmd = [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(self._port),
            "--accounts", str(self._n_accounts),
            "--balance", str(self._balance_eth),
            "--mnemonic", MNEMONIC,
        ]  # fmt: skip
        if self._block_time is not None:
            cmd += ["--block-time", str(self._block_time)]
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        port = self._wait_listening()
        self.rpc_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        try:
            self.roles = self._roles()
            self.deployment = self._deploy()
        except Exception as exc:
            self.stop()
            raise DevnetError(f"deployment failed: {exc}") from exc
        return self

    def stop(self) -> None:
        """Stop anvil: SIGTERM, then SIGKILL after 5 s."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> Devnet:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _wait_listening(self) -> int:
        assert self._proc is not None and self._proc.stdout is not None
        found: list[int] = []
        ready = threading.Event()

        def drain(stream: Any) -> None:
            # anvil logs every request; keep reading so it never blocks on a full pipe.
            for line in stream:
                self._log.append(line.rstrip())
                if not found and line.startswith("Listening on "):
                    found.append(int(line.rsplit(":", 1)[1]))
                    ready.set()
            ready.set()

        threading.Thread(target=drain, args=(self._proc.stdout,), daemon=True, name="anvil-log").start()
        if not ready.wait(START_TIMEOUT_S) or not found:
            self.stop()
            raise DevnetError("anvil did not start:\n" + "\n".join(self._log))
        return found[0]

    # ---- deployment ----

    def _roles(self) -> Roles:
        accounts = [
            DevAccount(a.address, a.key.hex() if a.key.hex().startswith("0x") else "0x" + a.key.hex())
            for a in (
                Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(self._n_accounts)
            )
        ]
        n = self._n_attesters
        return Roles(
            owner=accounts[0],
            provers=accounts[1:4],
            requesters=accounts[4:7],
            attesters=accounts[7 : 7 + n],
            spare=accounts[7 + n :],
        )

    def _deploy(self) -> Deployment:
        assert self.roles is not None
        w3 = self.web3()
        owner = self.roles.owner.address
        attesters = sorted(a.address for a in self.roles.attesters)
        registry = _deploy(w3, owner, "ProgramRegistry", owner)
        verifier = _deploy(w3, owner, "AttestationVerifier", owner, attesters, self._threshold)
        engine = _deploy(w3, owner, "ExecutionEngine", registry, owner)
        recording = _deploy(w3, owner, "RecordingCallback")
        reverting = _deploy(w3, owner, "RevertingCallback")
        guests = self._guests if self._guests is not None else builtin_guests()
        reg = w3.eth.contract(address=registry, abi=abi("ProgramRegistry"))
        for name, image_id in sorted(guests.items()):
            _transact(w3, owner, reg.functions.registerProgram(image_id, name, verifier, f"zkray://guest/{name}"))
        return Deployment(
            chain_id=w3.eth.chain_id,
            engine=engine,
            registry=registry,
            verifier=verifier,
            recording_callback=recording,
            reverting_callback=reverting,
            guests={name: "0x" + image_id.hex() for name, image_id in sorted(guests.items())},
            attester_threshold=self._threshold,
        )

    def register_program(self, name: str, image_id: bytes, elf_url: str) -> None:
        """Register one more program with the attestation verifier, as the owner: an RV32IM ELF guest whose
        ELF the nodes fetch from `elf_url` (`zkray://guest/<file stem>` for a guest bundled in `guest/`)."""
        assert self.deployment is not None and self.roles is not None, "start the devnet first"
        w3 = self.web3()
        reg = w3.eth.contract(address=self.deployment.registry, abi=abi("ProgramRegistry"))
        call = reg.functions.registerProgram(image_id, name, self.deployment.verifier, elf_url)
        _transact(w3, self.roles.owner.address, call)
        self.deployment.guests[name] = "0x" + image_id.hex()

    # ---- anvil controls (tests and benchmarks) ----

    def web3(self) -> Web3:
        return Web3(HTTPProvider(self.rpc_url, request_kwargs={"timeout": 30}))

    def rpc(self, method: str, *params: Any) -> Any:
        """A raw JSON-RPC call (anvil_*, evm_* methods), with nothing shared between threads or calls."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        request = urllib.request.Request(self.rpc_url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            reply = json.loads(response.read())
        if "error" in reply:
            raise DevnetError(f"{method} failed: {reply['error']}")
        return reply.get("result")

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        if not self.rpc("evm_revert", snapshot_id):
            raise DevnetError(f"evm_revert({snapshot_id}) failed: snapshots are single-use")

    def increase_time(self, seconds: int) -> None:
        """Advance the chain clock and mine one block so the next call sees the new time."""
        self.rpc("evm_increaseTime", seconds)
        self.rpc("evm_mine")

    def set_next_timestamp(self, timestamp: int) -> None:
        """The next block gets exactly this timestamp (then time runs on from there)."""
        self.rpc("evm_setNextBlockTimestamp", timestamp)

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def set_interval_mining(self, seconds: float) -> None:
        """Mine a block every `seconds` (0: back to automine, one block per transaction)."""
        if seconds <= 0:
            self.rpc("evm_setIntervalMining", 0)
            self.rpc("evm_setAutomine", True)
        else:
            self.rpc("evm_setAutomine", False)
            self.rpc("evm_setIntervalMining", seconds)

    def describe(self) -> dict[str, Any]:
        """RPC URLs, contract addresses and account roles as plain data (what `zkray devnet` prints)."""
        assert self.deployment is not None and self.roles is not None
        r = self.roles
        return {
            "rpc_url": self.rpc_url,
            "ws_url": self.ws_url,
            **self.deployment.__dict__,
            "accounts": {
                "owner": r.owner.__dict__,
                "provers": [a.__dict__ for a in r.provers],
                "requesters": [a.__dict__ for a in r.requesters],
                "attesters": [a.__dict__ for a in r.attesters],
            },
        }


def _deploy(w3: Web3, sender: str, name: str, *args: Any) -> str:
    factory = w3.eth.contract(abi=abi(name), bytecode=bytecode(name))
    receipt = _transact(w3, sender, factory.constructor(*args))
    address = receipt["contractAddress"]
    if not address:
        raise DevnetError(f"deploying {name} produced no contract")
    return str(address)


def _transact(w3: Web3, sender: str, call: Any) -> Any:
    # Devnet accounts are unlocked in anvil, so it signs for us.
    tx_hash = call.transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.05)
    if receipt["status"] != 1:
        raise DevnetError(f"transaction {tx_hash.hex()} reverted")
    return receipt


def main(argv: list[str] | None = None) -> int:
    """`zkray devnet`: run a devnet until interrupted, printing its RPC URL and addresses."""
    parser = argparse.ArgumentParser(prog="zkray devnet", description="Run a local zkray chain.")
    parser.add_argument("--port", type=int, default=0, help="RPC port (default: an ephemeral port)")
    parser.add_argument("--block-time", type=float, default=None, help="mine every N s (default: per tx)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--for-seconds", type=float, default=None, help="stop after N s (default: never)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Devnet(block_time=args.block_time, port=args.port) as devnet:
        info = devnet.describe()
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            _print_text(info)
        deadline = None if args.for_seconds is None else time.monotonic() + args.for_seconds
        while not stop.wait(0.2):
            if not devnet.running:
                print("anvil exited", file=sys.stderr)
                return 1
            if deadline is not None and time.monotonic() >= deadline:
                break
    return 0


def _print_text(info: dict[str, Any]) -> None:
    print(f"RPC URL        {info['rpc_url']}\nWebSocket URL  {info['ws_url']}")
    print(f"chain id       {info['chain_id']}")
    for key in ("engine", "registry", "verifier"):
        print(f"{key:<15}{info[key]}")
    for name, image_id in info["guests"].items():
        print(f"guest {name:<9}{image_id}")
    accounts = info["accounts"]
    print(f"owner          {accounts['owner']['address']}")
    for role in ("provers", "requesters", "attesters"):
        for a in accounts[role]:
            print(f"{role[:-1]:<15}{a['address']}  key {a['key']}")
    print(f"(pid {os.getpid()}; Ctrl-C stops the devnet)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
