"""The node key: created 0600 when absent, reloaded, overridden by the variable, never shown."""

from __future__ import annotations

import os
import stat

import pytest

from zkray.orchestrator import NodeKey, NodeKeyError, PullWorker, WorkerConfig, load_or_create_key


def test_created_once_with_mode_0600_then_reloaded(tmp_path):
    path = tmp_path / "keys" / "node_key"
    key = load_or_create_key(path, env_var="ZKRAY_TEST_UNSET_VAR")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path, env_var="ZKRAY_TEST_UNSET_VAR").public_bytes == key.public_bytes


def test_environment_variable_wins_over_the_file(tmp_path, monkeypatch):
    path = tmp_path / "node_key"
    load_or_create_key(path, env_var="ZKRAY_TEST_KEY")
    other = NodeKey.generate()
    monkeypatch.setenv("ZKRAY_TEST_KEY", other.seed_hex())
    assert load_or_create_key(path, env_var="ZKRAY_TEST_KEY").public_bytes == other.public_bytes


@pytest.mark.parametrize(("text", "match"), [("zz" * 32, "not hex"), ("ab" * 31, "31 bytes")])
def test_malformed_seed_is_refused_with_the_fix(tmp_path, text, match):
    path = tmp_path / "node_key"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(NodeKeyError, match=match):
        load_or_create_key(path, env_var="ZKRAY_TEST_UNSET_VAR")


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "node_key"
    load_or_create_key(path, env_var="ZKRAY_TEST_UNSET_VAR")
    os.chmod(path, 0o644)
    with pytest.raises(NodeKeyError, match="chmod 600"):
        load_or_create_key(path, env_var="ZKRAY_TEST_UNSET_VAR")


def test_the_secret_never_appears_in_reprs(tmp_path):
    config = WorkerConfig(orchestrator_url="http://127.0.0.1:1", key_file=tmp_path / "k", key_env="ZKRAY_TEST_UNSET")
    worker = PullWorker(config)
    secret = worker.key.seed_hex()
    for text in (repr(worker.key), str(worker.key), repr(worker), repr(config)):
        assert secret not in text
    assert worker.key.public_hex in repr(worker.key)
    assert worker.node_id == f"node-{worker.key.public_hex[:16]}"
