"""Settings of the Bonsai-compatible API: keys with their quotas and rate limits, body caps, timeouts.

Loaded from a JSON file and/or the environment (`ApiConfig.load`):

- `ZKRAY_API_CONFIG`: path of a JSON file holding an `ApiConfig` object;
- `ZKRAY_API_KEYS`: the keys, overriding the file's: a JSON array of `ApiKey` objects, or
  `name:key,name:key` with default quotas.

Keys are `SecretStr`: they never appear in a repr, a log line or an error message (validation errors
are re-raised without their input values).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from zkray.api.errors import ConfigError

KiB = 1024
MiB = 1024 * KiB
CONFIG_ENV = "ZKRAY_API_CONFIG"
KEYS_ENV = "ZKRAY_API_KEYS"


class ApiKey(BaseModel):
    """One client: its secret, and what it may use. Sessions, inputs and receipts are private to a key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$",
                      description="Who this is, in logs and as the owner of sessions (never the key itself).")
    key: SecretStr = Field(min_length=16, max_length=256, description="The `x-api-key` value; 16+ characters.")
    rate_per_s: float = Field(10.0, gt=0, description="Requests per second (token bucket; the brief's default).")
    burst: float = Field(20.0, ge=1, description="Requests allowed at once before the rate applies.")
    concurrent_proofs: int = Field(4, ge=1, description="Sessions running at once; one more is a 429.")
    cycle_budget: int = Field(10**12, ge=0, description="Cycles this key may use in all; spent = a 429.")
    exec_cycle_limit_mcycles: int = Field(1024, ge=1, description="Largest session, in millions of cycles.")


class ApiConfig(BaseModel):
    """The API's settings; defaults documented beside each field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keys: tuple[ApiKey, ...] = Field((), description="Accepted API keys; with none, every request is a 401.")
    public_url: str | None = Field(
        None, description="Base URL put in upload/download URLs (behind a proxy); None: the request's own origin."
    )
    max_json_bytes: int = Field(64 * KiB, ge=1 * KiB, description="Largest JSON request body (413 above).")
    max_input_bytes: int = Field(16 * MiB, ge=1, description="Largest input upload (413 above).")
    max_image_bytes: int = Field(64 * MiB, ge=1, description="Largest ELF upload (413 above).")
    max_receipt_bytes: int = Field(64 * MiB, ge=1, description="Largest receipt upload (413 above).")
    max_stored_bytes_per_key: int = Field(256 * MiB, ge=1, description="Inputs and receipts kept per key; "
                                          "the oldest are forgotten first.")
    max_uploads_per_key: int = Field(1000, ge=1, description="Input/receipt slots kept per key, pending or full.")
    handler_timeout_s: float = Field(30.0, gt=0, description="Longest any request may take (body included); 503.")
    failed_auth_per_s: float = Field(5.0, gt=0, description="Requests with a wrong or missing key answered 401 "
                                     "per client address per second; beyond that 429 (guessing keys costs time).")
    failed_auth_burst: float = Field(50.0, ge=1, description="Failed-key requests a client address may make at once.")
    zkvm_versions: tuple[str, ...] = Field(("zkray-0.1",), description="What `GET /version` lists.")
    accepted_versions: tuple[str, ...] = Field(
        (), description="`x-risc0-version` values accepted (400 otherwise); empty: any, or none sent."
    )

    @model_validator(mode="after")
    def _unique_keys(self) -> ApiConfig:
        names = [k.name for k in self.keys]
        secrets = [k.key.get_secret_value() for k in self.keys]
        if len(set(names)) != len(names) or len(set(secrets)) != len(secrets):
            raise ValueError("API key names and key values must each be unique")
        return self

    @classmethod
    def load(cls, path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> ApiConfig:
        """The file (argument, else `ZKRAY_API_CONFIG`), then `ZKRAY_API_KEYS` over its keys."""
        env = os.environ if environ is None else environ
        data: dict[str, Any] = {}
        source = path or env.get(CONFIG_ENV)
        if source:
            try:
                loaded = json.loads(Path(source).read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise ConfigError(f"cannot read the API config {source}: {e}") from None
            if not isinstance(loaded, dict):
                raise ConfigError(f"the API config {source} must be a JSON object")
            data = loaded
        if env.get(KEYS_ENV):
            data["keys"] = _keys_from_env(env[KEYS_ENV])
        return cls.parse(data, str(source or KEYS_ENV))

    @classmethod
    def parse(cls, data: Mapping[str, Any], source: str = "config") -> ApiConfig:
        """Validate without echoing inputs (they may hold keys) in the error."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
                for err in e.errors(include_input=False, include_url=False)
            )
            raise ConfigError(f"invalid API config from {source}: {problems}") from None


def _keys_from_env(value: str) -> list[Any]:
    value = value.strip()
    if value.startswith("["):
        try:
            keys = json.loads(value)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{KEYS_ENV} is not valid JSON (at position {e.pos})") from None
        if not isinstance(keys, list):
            raise ConfigError(f"{KEYS_ENV} must be a JSON array of key objects")
        return keys
    out = []
    for i, item in enumerate(p for p in value.split(",") if p.strip()):
        name, sep, key = item.strip().partition(":")
        if not sep:
            raise ConfigError(f"{KEYS_ENV} entry {i} must be name:key (or use a JSON array)")
        out.append({"name": name, "key": key})
    return out
