"""API configuration from file and environment; keys never printed; the package's public surface."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from api_support import ALICE, BOB, FIB, fib_input

import zkray.api
from zkray.api import ApiConfig, ConfigError


def test_load_from_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "api.json"
    path.write_text(json.dumps({"keys": [{"name": "alice", "key": ALICE, "concurrent_proofs": 2}],
                                "max_input_bytes": 1234}))
    cfg = ApiConfig.load(path, environ={})
    assert cfg.keys[0].name == "alice" and cfg.keys[0].concurrent_proofs == 2 and cfg.max_input_bytes == 1234
    cfg = ApiConfig.load(environ={"ZKRAY_API_CONFIG": str(path), "ZKRAY_API_KEYS": f"bob:{BOB}, carol:{ALICE}"})
    assert [k.name for k in cfg.keys] == ["bob", "carol"] and cfg.max_input_bytes == 1234
    as_json = json.dumps([{"name": "dave", "key": BOB, "rate_per_s": 1.5}])
    cfg = ApiConfig.load(environ={"ZKRAY_API_KEYS": as_json})
    assert cfg.keys[0].rate_per_s == 1.5 and cfg.keys[0].key.get_secret_value() == BOB
    assert ApiConfig.load(environ={}).keys == ()


@pytest.mark.parametrize("keys", [
    f"alice:{ALICE},bob:{ALICE}",  # the same secret twice
    f"alice:{ALICE},alice:{BOB}",  # the same name twice
    "alice:short-secret",  # under 16 characters
    f"no-colon-{ALICE}",
    "[not json",
    '{"name": "x"}',
    json.dumps([{"name": "x", "key": ALICE, "surprise": 1}]),
])
def test_bad_keys_are_refused_without_echoing_them(keys: str) -> None:
    with pytest.raises(ConfigError) as e:
        ApiConfig.load(environ={"ZKRAY_API_KEYS": keys})
    assert ALICE not in str(e.value) and "short-secret" not in str(e.value) and BOB not in str(e.value)


def test_unreadable_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        ApiConfig.load(tmp_path / "missing.json", environ={})
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ConfigError, match="JSON object"):
        ApiConfig.load(tmp_path / "list.json", environ={})


def test_keys_do_not_appear_in_reprs() -> None:
    cfg = ApiConfig.load(environ={"ZKRAY_API_KEYS": f"alice:{ALICE}"})
    assert ALICE not in repr(cfg) and ALICE not in str(cfg) and ALICE not in cfg.model_dump_json()
    assert ALICE not in repr(zkray.api.BonsaiClient("http://127.0.0.1:1", ALICE))


async def test_keys_are_never_logged(serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = await serve()
    wrong = "wrong-secret-key-0123456789"
    async with api.client() as c:
        await c.prove(FIB, fib_input(5), timeout=60)
    async with aiohttp.ClientSession() as http, http.get(f"{api.url}/version", headers={"x-api-key": wrong}) as r:
        assert r.status == 401
    text = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    assert "key alice created session" in text  # the name is logged, the secret is not
    assert ALICE not in text and wrong not in text


async def test_no_keys_means_every_request_is_refused(serve, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="zkray.api"):
        api = await serve(ApiConfig())
    assert "no keys configured" in caplog.text
    async with aiohttp.ClientSession() as http, http.get(f"{api.url}/version", headers={"x-api-key": ALICE}) as r:
        assert r.status == 401


def test_public_surface() -> None:
    assert sorted(zkray.api.__all__) == zkray.api.__all__
    for name in zkray.api.__all__:
        assert getattr(zkray.api, name) is not None


async def test_standalone_server_process() -> None:
    """`python -m zkray.api` serves real proofs with keys from the environment, and stops on SIGTERM."""
    env = {**os.environ, "ZKRAY_API_KEYS": f"alice:{ALICE}"}
    env.pop("ZKRAY_API_CONFIG", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zkray.api", "--port", "0", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        line = b""
        for _ in range(200):  # bounded: the first lines are logging, then "listening on URL"
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
            if line.startswith(b"listening on ") or not line:
                break
        url = line.decode().removeprefix("listening on ").strip()
        assert url.startswith("http://127.0.0.1:"), line
        async with zkray.api.BonsaiClient(url, ALICE) as c:
            receipt = await c.prove(FIB, fib_input(6), timeout=120)
        receipt.verify(FIB)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=60) == 0
        rest = (await proc.stdout.read()).decode()
        assert ALICE not in rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
