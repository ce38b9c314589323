"""JSON log lines, and secrets that never reach them."""

from __future__ import annotations

import io
import json
import logging

from zkray.observe import configure_logging

PRIVATE_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe512961708279f2e3e8a5d4b8e3e5a1"
API_KEY = "bonsai-key-s3cr3t-value"


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_are_json_with_fields_and_secrets_scrubbed():
    out = io.StringIO()
    fmt = configure_logging(logging.DEBUG, stream=out, secrets=[PRIVATE_KEY], logger="zkray.test.observe")
    fmt.add_secret(API_KEY)
    log = logging.getLogger("zkray.test.observe")
    log.info("claimed job %s", "0x" + "aa" * 32, extra={"job_id": "j1", "cycles": 1024, "tip_wei": 10**18})
    log.warning("signing with %s", PRIVATE_KEY.removeprefix("0x"))  # the bare spelling is caught too
    log.info("request", extra={"x_api_key": "anything", "headers": {"Authorization": "Bearer t", "accept": "json"}})
    log.info("config %s", {"rpc": "http://127.0.0.1:8545", "key": API_KEY})
    try:
        raise ValueError(f"bad key {PRIVATE_KEY}")
    except ValueError:
        log.exception("failed")
    text = out.getvalue()
    assert PRIVATE_KEY[2:] not in text and API_KEY not in text and "Bearer t" not in text
    first, second, third, fourth, fifth = lines(out)
    assert first["level"] == "info" and first["logger"] == "zkray.test.observe" and first["ts"].endswith("+00:00")
    assert first["msg"] == "claimed job 0x" + "aa" * 32  # public hashes stay readable
    assert first["job_id"] == "j1" and first["cycles"] == 1024 and first["tip_wei"] == 10**18
    assert second["msg"] == "signing with [redacted]"
    assert third["x_api_key"] == "[redacted]"
    assert third["headers"] == {"Authorization": "[redacted]", "accept": "json"}
    assert "[redacted]" in fourth["msg"]
    assert fifth["level"] == "error" and "ValueError: bad key [redacted]" in fifth["exc"]


def test_reconfiguring_replaces_its_own_handler_only():
    name = "zkray.test.observe.reconf"
    other = logging.NullHandler()
    logging.getLogger(name).addHandler(other)
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first, logger=name)
    configure_logging(stream=second, logger=name)
    logging.getLogger(name).info("once")
    assert first.getvalue() == "" and len(lines(second)) == 1
    assert other in logging.getLogger(name).handlers
