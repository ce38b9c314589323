"""The orchestrator's task ledger: which tasks wait, who was served what, which are done. Pure: takes `now`.

A task is PENDING until served, SERVED (to one or more public keys) until a valid proof arrives, then
DONE; past its deadline it is EXPIRED. A served task whose lease runs out is served again (a node may
have died), so more than one key can hold it: the first valid submission from any of them wins and
every later one is a duplicate.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum

from zkray.orchestrator.errors import Rejected, Rejection


class TaskStatus(StrEnum):
    PENDING = "pending"
    SERVED = "served"
    DONE = "done"
    EXPIRED = "expired"


@dataclass
class TaskRecord:
    """One task and what has happened to it."""

    task_id: str
    program_id: str
    public_inputs: bytes
    created_at: float
    deadline: float
    status: TaskStatus = TaskStatus.PENDING
    served_to: set[bytes] = field(default_factory=set)  # public keys
    served_at: float | None = None
    times_served: int = 0
    done_by: str | None = None  # node id
    proof_hash: str | None = None


class TaskBook:
    """Tasks in creation order; `take` serves the oldest available, `accept` settles one."""

    def __init__(self, lease_s: float) -> None:
        self.lease_s = lease_s
        self._tasks: dict[str, TaskRecord] = {}
        self._open: OrderedDict[str, TaskRecord] = OrderedDict()  # pending or served, oldest first
        self._ids = itertools.count(1)

    def add(self, program_id: str, public_inputs: bytes, now: float, ttl_s: float, task_id: str | None = None) -> str:
        """Register a task; ids are "t-000001", … unless given (a given id must be new and contain no '|')."""
        task_id = task_id if task_id is not None else f"t-{next(self._ids):06d}"
        if not task_id or "|" in task_id or task_id in self._tasks:
            raise ValueError(f"task id {task_id!r} is empty, contains '|', or is already used")
        rec = TaskRecord(task_id, program_id, bytes(public_inputs), now, now + ttl_s)
        self._tasks[task_id] = self._open[task_id] = rec
        return task_id

    def get(self, task_id: str) -> TaskRecord | None:
        return self._tasks.get(task_id)

    def _close(self, rec: TaskRecord, status: TaskStatus) -> None:
        rec.status = status
        self._open.pop(rec.task_id, None)

    def _available(self, rec: TaskRecord, now: float) -> bool:
        if now >= rec.deadline:
            self._close(rec, TaskStatus.EXPIRED)
            return False
        if rec.status is TaskStatus.PENDING:
            return True
        return rec.served_at is not None and now - rec.served_at >= self.lease_s

    def take(self, public_key: bytes, max_tasks: int, now: float) -> list[TaskRecord]:
        """Serve up to `max_tasks` of the oldest pending tasks (or served ones whose lease ran out)."""
        out: list[TaskRecord] = []
        for rec in list(self._open.values()):
            if len(out) >= max_tasks:
                break
            if self._available(rec, now):
                rec.status = TaskStatus.SERVED
                rec.served_to.add(public_key)
                rec.served_at = now
                rec.times_served += 1
                out.append(rec)
        return out

    def submittable(self, task_id: str, public_key: bytes, now: float) -> TaskRecord:
        """The task if `public_key` may submit it now; otherwise `Rejected` with the reason."""
        rec = self._tasks.get(task_id)
        if rec is None:
            raise Rejected(Rejection.UNKNOWN_TASK, f"no task {task_id!r} on this orchestrator")
        if rec.status is TaskStatus.DONE:
            raise Rejected(Rejection.DUPLICATE, f"task {task_id} already has an accepted proof")
        if rec.status is TaskStatus.EXPIRED or now >= rec.deadline:
            self._close(rec, TaskStatus.EXPIRED)
            raise Rejected(Rejection.EXPIRED, f"task {task_id} passed its deadline")
        if public_key not in rec.served_to:
            raise Rejected(Rejection.WRONG_KEY, f"task {task_id} was not served to key {public_key.hex()[:16]}…")
        return rec

    def accept(self, task_id: str, public_key: bytes, node_id: str, hash_hex: str, now: float) -> TaskRecord:
        """Mark a verified submission; re-checks, since another may have landed while it was verified."""
        rec = self.submittable(task_id, public_key, now)
        self._close(rec, TaskStatus.DONE)
        rec.done_by = node_id
        rec.proof_hash = hash_hex
        return rec

    def counts(self, now: float) -> dict[TaskStatus, int]:
        """Tasks by status (expiring overdue ones first)."""
        for rec in list(self._open.values()):
            if now >= rec.deadline:
                self._close(rec, TaskStatus.EXPIRED)
        out = dict.fromkeys(TaskStatus, 0)
        for rec in self._tasks.values():
            out[rec.status] += 1
        return out

    def __len__(self) -> int:
        return len(self._tasks)
