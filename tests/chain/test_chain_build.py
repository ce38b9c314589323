"""The committed contract artifacts are what the pinned solc-js compiles today, and every custom error in
their ABIs has a typed Python exception."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak

from zkray.chain import errors
from zkray.chain.artifacts import ARTIFACT_DIR, abi
from zkray.chain.build import compile_contracts, render, stale_artifacts


def test_committed_artifacts_match_a_fresh_compile() -> None:
    fresh = compile_contracts()
    assert set(fresh) >= {"ExecutionEngine", "ProgramRegistry", "AttestationVerifier"}
    assert stale_artifacts(fresh) == [], "run: python -m zkray.chain.build"
    engine = fresh["ExecutionEngine"]
    assert engine["compiler"].startswith("0.8.37")
    assert (ARTIFACT_DIR / "ExecutionEngine.json").read_text() == render(engine)
    # The EVM's contract size limit (EIP-170) leaves room to grow.
    assert len(engine["bytecode"]) // 2 < 24_576


def test_every_abi_error_has_a_typed_exception() -> None:
    classes = errors.error_classes()
    for contract in ("ExecutionEngine", "ProgramRegistry", "AttestationVerifier"):
        for entry in abi(contract):
            if entry["type"] == "error":
                assert entry["name"] in classes, f"add class {entry['name']} to zkray/chain/errors.py"


def test_decode_revert_handles_custom_errors_messages_and_panics() -> None:
    tip = errors.decode_revert(keccak(text="TipTooLow(uint256,uint256)")[:4] + encode(["uint256", "uint256"], [1, 2]))
    assert isinstance(tip, errors.TipTooLow) and tip.args_by_name == {"tip": 1, "minimum": 2}
    assert "MIN_TIP" in str(tip)  # the message says what to do
    message = errors.decode_revert(bytes.fromhex("08c379a0") + encode(["string"], ["ether refused"]))
    assert isinstance(message, errors.RevertMessage) and message.args_by_name == {"message": "ether refused"}
    panic = errors.decode_revert(bytes.fromhex("4e487b71") + encode(["uint256"], [0x11]))
    assert isinstance(panic, errors.Panic) and panic.args_by_name == {"code": "0x11"}
    unknown = errors.decode_revert(b"\xde\xad\xbe\xef")
    assert type(unknown) is errors.ContractError and unknown.name == "UnknownError"


def test_public_surface_resolves() -> None:
    import zkray.chain

    for name in zkray.chain.__all__:
        assert getattr(zkray.chain, name).__name__ == name
