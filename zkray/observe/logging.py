"""Structured logs: one JSON object per line, with secrets scrubbed before anything is written.

A log line may end up in a ticket or a public bug report, so redaction happens in the formatter, the last
step before output, and covers the message, `extra=` fields and exception text alike:
- any `extra` field whose name looks secret (key, secret, token, password, authorization, …) is replaced;
- every value registered with `JsonFormatter.add_secret` (the node registers its private key, API keys
  and attester keys at start) is replaced wherever it appears, with or without a 0x prefix.
Hashes, image ids and addresses are public and are left alone: a blanket hex filter would hide them too.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

REDACTED = "[redacted]"
SECRET_NAME = re.compile(r"(secret|passw|token|authoriz|private|api[_-]?key|^key$|_key$|mnemonic|seed)", re.I)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats records as JSON lines: ts (UTC, ISO 8601), level, logger, msg, extra fields, exc."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        for s in secrets:
            self.add_secret(s)

    def add_secret(self, value: str) -> None:
        """Never print `value` (nor its 0x-less or 0x-prefixed spelling); values under 8 chars are ignored,
        as replacing them would mangle ordinary words."""
        value = str(value)
        bare = value.removeprefix("0x")
        for v in (value, bare, "0x" + bare):
            if len(v) >= 8:
                self._secrets.add(v)

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self.scrub(record.getMessage()),
        }
        for name, value in vars(record).items():
            if name in _STANDARD or name.startswith("_"):
                continue
            entry[name] = REDACTED if SECRET_NAME.search(name) else self._clean(value)
        if record.exc_info:
            entry["exc"] = self.scrub(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {str(k): REDACTED if SECRET_NAME.search(str(k)) else self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.scrub(str(value))


def configure_logging(
    level: int | str = logging.INFO,
    *,
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
    logger: str = "",
) -> JsonFormatter:
    """Send `logger` (the root by default) to `stream` (stderr) as JSON lines; returns the formatter so
    the caller can `add_secret` later. Replaces handlers this function installed before, not others."""
    formatter = JsonFormatter(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("zkray-json")
    target = logging.getLogger(logger)
    for old in [h for h in target.handlers if h.get_name() == "zkray-json"]:
        target.removeHandler(old)
    target.addHandler(handler)
    target.setLevel(level)
    return formatter
