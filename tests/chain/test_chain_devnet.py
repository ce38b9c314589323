"""The devnet's command (`zkray devnet`) and the attester's key loading and command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from chain_support import fib_receipt

from zkray.attest import KEY_ENV, Attester, AttesterKeyError, Statement, decode_seal, encode_seal
from zkray.chain.devnet import Devnet

KEY = "0x" + "11" * 32


def test_devnet_command_prints_its_rpc_url_and_addresses_and_stops_cleanly() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "zkray.chain.devnet", "--json", "--for-seconds", "0.5"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.splitlines()[0])
    assert info["rpc_url"].startswith("http://127.0.0.1:") and info["engine"].startswith("0x")
    assert set(info["guests"]) >= {"fib", "fib_input_initial"}
    assert len(info["accounts"]["provers"]) == 3 and len(info["accounts"]["attesters"]) == 3


def test_devnet_registers_the_builtin_guests_with_the_attestation_verifier(devnet: Devnet) -> None:
    from zkray.chain.artifacts import abi

    assert devnet.deployment is not None
    w3 = devnet.web3()
    registry = w3.eth.contract(address=devnet.deployment.registry, abi=abi("ProgramRegistry"))
    for name, image_id in devnet.deployment.guests.items():
        program_name, verifier, active, elf_url, _ = registry.functions.getProgram(bytes.fromhex(image_id[2:])).call()
        assert (program_name, verifier, active) == (name, devnet.deployment.verifier, True)
        assert elf_url == f"zkray://guest/{name}"


def test_statement_digest_matches_the_contract(devnet: Devnet) -> None:
    from zkray.chain.artifacts import abi

    assert devnet.deployment is not None
    statement = Statement(b"\1" * 32, b"\2" * 32, b"\3" * 32)
    verifier = devnet.web3().eth.contract(address=devnet.deployment.verifier, abi=abi("AttestationVerifier"))
    on_chain = verifier.functions.statementDigest(b"\1" * 32, b"\2" * 32, b"\3" * 32).call()
    assert statement.digest(devnet.deployment.chain_id, devnet.deployment.verifier) == on_chain


def test_attester_key_from_file_or_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "attester.key"
    key_file.write_text(KEY + "\n")
    assert Attester.load(key_file).address == Attester(KEY).address
    monkeypatch.setenv(KEY_ENV, KEY)
    assert Attester.load().address == Attester(KEY).address
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(AttesterKeyError, match=KEY_ENV):
        Attester.load()
    with pytest.raises(AttesterKeyError, match="does not exist"):
        Attester.load(tmp_path / "missing")
    with pytest.raises(AttesterKeyError):
        Attester("0x1234")


def test_seal_orders_signatures_by_signer_and_round_trips() -> None:
    receipt = fib_receipt()
    attesters = [Attester("0x" + f"{i:02x}" * 32) for i in (0x21, 0x22, 0x23)]
    attestations = [a.attest(receipt, chain_id=1, verifier="0x" + "ab" * 20) for a in attesters]
    digest, signatures = decode_seal(encode_seal(attestations))
    assert digest == receipt.digest()
    by_signer = sorted(attestations, key=lambda a: int(a.signer, 16))
    assert signatures == [a.signature for a in by_signer]


def test_attest_command_signs_a_verified_receipt_file(tmp_path: Path) -> None:
    path = tmp_path / "fib.receipt"
    path.write_bytes(fib_receipt().encode())
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    args = [sys.executable, "-m", "zkray.attest", str(path), "--chain-id", "31337", "--verifier", "0x" + "ab" * 20]
    ok = subprocess.run([*args, "--key-file", str(key_file)], capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    signer, signature = ok.stdout.split()
    assert signer == Attester(KEY).address and len(bytes.fromhex(signature[2:])) == 65
    path.write_bytes(b"not a receipt")
    bad = subprocess.run([*args, "--key-file", str(key_file)], capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 1 and "not attested" in bad.stderr
