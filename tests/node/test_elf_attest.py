"""The attester and an ELF guest's composite receipt: it signs only after verifying the receipt with the
guest's ELF (passed in, or looked up by image id as the node does), refuses a receipt whose ELF it does not
have, and an ELF of another program does not make the receipt verify. The command line takes `--elf`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from test_elf_node import counting_loop

from zkray.attest import Attester, Statement, UnknownProgram
from zkray.zkvm.continuation import prove_elf
from zkray.zkvm.errors import VerificationError

KEY = "0x" + "42" * 32
CHAIN_ID, VERIFIER = 31337, "0x" + "ab" * 20


def test_the_attester_verifies_a_composite_receipt_with_its_elf_and_refuses_without_it(tmp_path: Path) -> None:
    elf, other = counting_loop(300), counting_loop(301)
    receipt = prove_elf(elf, b"")

    with pytest.raises(UnknownProgram, match="ELF"):
        Attester(KEY).attest(receipt, chain_id=CHAIN_ID, verifier=VERIFIER)
    with pytest.raises(UnknownProgram):  # a lookup that does not know the program is no better
        Attester(KEY, programs=lambda image_id: None).attest(receipt, chain_id=CHAIN_ID, verifier=VERIFIER)
    with pytest.raises(VerificationError):  # another program's ELF: its image id is not the receipt's
        Attester(KEY).attest(receipt, chain_id=CHAIN_ID, verifier=VERIFIER, program=other)

    held = {receipt.image_id: elf}
    signed = Attester(KEY, programs=held.get).attest(receipt, chain_id=CHAIN_ID, verifier=VERIFIER)
    statement = Statement.of(receipt)
    assert signed.statement == statement
    recovered = Account._recover_hash(statement.digest(CHAIN_ID, VERIFIER), signature=signed.signature)
    assert recovered == signed.signer == Attester(KEY).address

    path, key_file, elf_file = tmp_path / "loop.receipt", tmp_path / "key", tmp_path / "loop.elf"
    path.write_bytes(receipt.encode())
    key_file.write_text(KEY)
    elf_file.write_bytes(elf)
    args = [sys.executable, "-m", "zkray.attest", str(path), "--chain-id", str(CHAIN_ID), "--verifier", VERIFIER,
            "--key-file", str(key_file)]  # fmt: skip
    ok = subprocess.run([*args, "--elf", str(elf_file)], capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.split() == [signed.signer, "0x" + signed.signature.hex()]
    refused = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 1 and "not attested" in refused.stderr and "ELF" in refused.stderr
