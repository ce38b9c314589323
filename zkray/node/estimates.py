"""Cycle estimates for jobs not yet preflighted, from the cycles earlier preflights measured.

Why: the scheduler scores a job when it is offered, long before preflight runs it, and a job without
cycles is scored as the policy's default (1 M cycles). An ELF program's runs are often the same length
(or close), so what preflight measured before is a far better guess: a job whose program is known to be
long then scores below an equally tipped short one from the moment it is offered, not after it has
already been picked.

Two estimates, both kept in the node's journal (its key-value `cursors` table, so they survive restarts
and need no schema of their own):
- per (image id, input digest): the exact cycles of that run (preflight is deterministic);
- per image id: an exponential moving average of its runs (weight `EMA_WEIGHT` on the newest).
`estimate` gives the exact one when known, else the program's average, else None (the scheduler's
default). Recorded after every successful preflight (`zkray.node.stages`), read at admission
(`zkray.node.pipeline.Node.offer_request`, also for the rough deadline and profit checks there).
"""

from __future__ import annotations

from typing import Protocol

EMA_WEIGHT = 0.5
"""Weight of the newest run in a program's average: recent inputs matter, one outlier halves away."""
PREFIX = "cycles:"


class KeyValue(Protocol):
    """The journal's key-value table (`zkray.store.JobJournal.get_cursor` / `set_cursor`)."""

    def get_cursor(self, key: str) -> str | None: ...

    def set_cursor(self, key: str, value: str, now: float | None = None) -> None: ...


class CycleEstimates:
    """Measured cycles by run and by program, read and written through the journal."""

    def __init__(self, store: KeyValue) -> None:
        self._store = store

    def record(self, image_id: str, input_digest: str, cycles: int) -> None:
        """Remember what preflight measured for this run, and fold it into the program's average."""
        image, digest = _norm(image_id), _norm(input_digest)
        self._store.set_cursor(f"{PREFIX}{image}:{digest}", str(int(cycles)))
        previous = self._read(f"{PREFIX}{image}")
        average = cycles if previous is None else EMA_WEIGHT * cycles + (1 - EMA_WEIGHT) * previous
        self._store.set_cursor(f"{PREFIX}{image}", str(max(1, round(average))))

    def estimate(self, image_id: str, input_digest: str) -> int | None:
        """This run's measured cycles, else the program's average, else None (never measured)."""
        image = _norm(image_id)
        exact = self._read(f"{PREFIX}{image}:{_norm(input_digest)}")
        return exact if exact is not None else self._read(f"{PREFIX}{image}")

    def _read(self, key: str) -> int | None:
        raw = self._store.get_cursor(key)
        try:
            return None if raw is None else int(raw)
        except ValueError:  # not ours to fail on: an unreadable entry is just no estimate
            return None


def _norm(hex_id: str) -> str:
    return hex_id.lower().removeprefix("0x")
