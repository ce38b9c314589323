"""The orchestrator's ledger, driven with an invented clock."""

from __future__ import annotations

import pytest

from zkray.orchestrator import Rejected, Rejection
from zkray.orchestrator.taskbook import TaskBook, TaskStatus

A, B = b"a" * 32, b"b" * 32


def book_with(n: int, lease_s: float = 10.0, ttl_s: float = 100.0) -> TaskBook:
    book = TaskBook(lease_s)
    for i in range(n):
        book.add("fast-fib", bytes([i, 0, 0, 0]), now=0.0, ttl_s=ttl_s)
    return book


def test_batches_come_oldest_first_and_each_task_once():
    book = book_with(5)
    first = [r.task_id for r in book.take(A, 3, now=1.0)]
    second = [r.task_id for r in book.take(A, 3, now=1.0)]
    assert first == ["t-000001", "t-000002", "t-000003"]
    assert second == ["t-000004", "t-000005"]
    assert book.take(A, 3, now=1.0) == []


def test_a_task_whose_lease_ran_out_is_served_again_and_either_holder_may_submit():
    book = book_with(1, lease_s=10.0)
    book.take(A, 1, now=0.0)
    assert book.take(B, 1, now=5.0) == []
    [again] = book.take(B, 1, now=10.0)
    assert again.times_served == 2 and again.served_to == {A, B}
    book.accept(again.task_id, B, "nb", "h", now=11.0)
    with pytest.raises(Rejected) as e:
        book.submittable(again.task_id, A, now=12.0)
    assert e.value.reason is Rejection.DUPLICATE


@pytest.mark.parametrize(
    ("task_id", "key", "now", "reason"),
    [("t-404", A, 1.0, Rejection.UNKNOWN_TASK), ("t-000001", B, 1.0, Rejection.WRONG_KEY),
     ("t-000001", A, 100.0, Rejection.EXPIRED)],
)  # fmt: skip
def test_submission_refusals(task_id, key, now, reason):
    book = book_with(1)
    book.take(A, 1, now=0.0)
    with pytest.raises(Rejected) as e:
        book.submittable(task_id, key, now)
    assert e.value.reason is reason


def test_never_served_task_cannot_be_submitted_and_expired_tasks_are_not_served():
    book = book_with(2, ttl_s=5.0)
    with pytest.raises(Rejected, match="not served"):
        book.submittable("t-000001", A, now=1.0)
    assert book.take(A, 2, now=6.0) == []
    assert book.counts(now=6.0)[TaskStatus.EXPIRED] == 2


def test_task_ids_must_be_new_and_free_of_the_separator():
    book = book_with(1)
    for bad in ("t-000001", "a | b", ""):
        with pytest.raises(ValueError):
            book.add("fast-fib", b"\0" * 4, now=0.0, ttl_s=1.0, task_id=bad)
