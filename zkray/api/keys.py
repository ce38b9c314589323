"""API keys at run time: who is calling, their token bucket, their running sessions and cycles spent.

Keys are looked up by their SHA-256 digest, so the table never holds a secret that a debugger or a crash
dump could print next to a name, and a lookup does not compare secrets byte by byte. Quotas:
`concurrent_proofs` counts sessions this key started that the service has not reported final;
`cycle_budget` is spent by the `total_cycles` of every finished session, and what is left of it also
caps each new session's cycle limit (so a key cannot overspend by more than its sessions in flight).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass, field

from zkray.api.config import ApiKey
from zkray.api.errors import SessionMissing
from zkray.api.service import ProvingService
from zkray.policy.ratelimit import TokenBucket


@dataclass
class KeyState:
    """One key's live state; `config` holds its quotas."""

    config: ApiKey
    bucket: TokenBucket
    active: set[str] = field(default_factory=set)
    cycle_usage: int = 0
    admission: asyncio.Lock = field(default_factory=asyncio.Lock)  # quota check and submit, one at a time

    @property
    def name(self) -> str:
        return self.config.name

    def retry_after_s(self, now: float) -> int:
        """Whole seconds until the bucket has a token again (a Retry-After value, at least 1)."""
        return max(1, math.ceil(self.bucket.wait_time(now)))

    @property
    def cycle_budget_left(self) -> int:
        return max(0, self.config.cycle_budget - self.cycle_usage)

    def session_cycle_limit(self, requested: int | None) -> int:
        """The cycle limit a new session gets: the request, capped by the key's per-session and budget limits."""
        cap = min(self.config.exec_cycle_limit_mcycles * 1_000_000, self.cycle_budget_left)
        return cap if requested is None else min(requested, cap)

    async def refresh(self, service: ProvingService) -> None:
        """Move sessions the service reports final out of `active`, charging their cycles."""
        for session_id in list(self.active):
            try:
                view = await service.status(session_id)
            except SessionMissing:
                self.active.discard(session_id)
                continue
            if view.final:
                self.active.discard(session_id)
                if view.stats is not None:
                    self.cycle_usage += view.stats.total_cycles


class KeyRing:
    """The configured keys, found by the digest of the presented `x-api-key`."""

    def __init__(self, keys: tuple[ApiKey, ...], now: float) -> None:
        self._by_digest = {
            _digest(k.key.get_secret_value()): KeyState(k, TokenBucket(k.rate_per_s, k.burst, now)) for k in keys
        }

    def __len__(self) -> int:
        return len(self._by_digest)

    def lookup(self, presented: str | None) -> KeyState | None:
        if not presented:
            return None
        return self._by_digest.get(_digest(presented))


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class FailedAuthLimiter:
    """A token bucket per client address, spent by requests whose key is wrong or missing.

    Keys have 16+ characters, so guessing is hopeless anyway; this keeps a guesser (or a misconfigured
    client in a loop) from costing the node more than `rate` cheap 401s a second. At most `max_clients`
    addresses are tracked; the least recently seen is forgotten first.
    """

    def __init__(self, rate: float, burst: float, max_clients: int = 10_000) -> None:
        self._rate, self._burst, self._max = rate, burst, max_clients
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def retry_after_s(self, client: str, now: float) -> int | None:
        """None if this failure may be answered 401; else whole seconds the client must wait (a 429)."""
        bucket = self._buckets.pop(client, None) or TokenBucket(self._rate, self._burst, now)
        self._buckets[client] = bucket
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        if bucket.try_acquire(now):
            return None
        return max(1, math.ceil(bucket.wait_time(now)))
