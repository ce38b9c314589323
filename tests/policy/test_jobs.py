"""The job state machine: the happy path, bounded retries, and states that never move backwards."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkray.policy.errors import InvalidTransition
from zkray.policy.jobs import (
    ALLOWED,
    FINAL,
    HOLDS_CLAIM,
    HOLDS_PROOF,
    RETRY_FROM,
    TERMINAL,
    WORKING,
    JobStatus,
    can_transition,
    is_terminal,
    retry_status,
    transition,
)

S = JobStatus
HAPPY = [
    S.DISCOVERED,
    S.QUEUED,
    S.FETCHING,
    S.PREFLIGHT,
    S.CLAIMING,
    S.CLAIMED,
    S.PROVING,
    S.PROVED,
    S.SUBMITTING,
    S.COMPLETED,
]
BEFORE_CLAIM = {S.DISCOVERED, S.QUEUED, S.FETCHING, S.PREFLIGHT, S.CLAIMING}


def test_the_happy_path_is_allowed() -> None:
    status = HAPPY[0]
    for new in HAPPY[1:]:
        status = transition(status, new)
    assert status is S.COMPLETED


@pytest.mark.parametrize(
    ("current", "new"),
    [(S.PROVING, S.CLAIMED), (S.SUBMITTING, S.PROVED), (S.FETCHING, S.QUEUED), (S.SKIPPED, S.QUEUED)],
)
def test_retries_step_back_one_stage(current: JobStatus, new: JobStatus) -> None:
    assert can_transition(current, new)


def test_every_working_status_has_an_allowed_retry_one_stage_back() -> None:
    assert set(RETRY_FROM) == WORKING
    for status in WORKING:
        back = retry_status(status)
        assert back is not None and can_transition(status, back)
        assert HAPPY.index(back) < HAPPY.index(status)
    assert retry_status(S.PROVED) is None and retry_status(S.QUEUED) is None


def test_every_status_has_a_row_and_final_states_have_no_exits() -> None:
    assert set(ALLOWED) == set(JobStatus)
    for status in FINAL:
        assert ALLOWED[status] == frozenset()
        assert is_terminal(status)
    assert is_terminal(S.SKIPPED)
    assert not any(is_terminal(s) for s in HOLDS_CLAIM)


def test_no_status_moves_to_itself() -> None:
    for status in JobStatus:
        assert not can_transition(status, status)


def test_a_claimed_job_never_goes_back_before_its_claim() -> None:
    for status in HOLDS_CLAIM:
        assert not (ALLOWED[status] & BEFORE_CLAIM), status


def test_a_proved_job_is_never_proven_again() -> None:
    for status in HOLDS_PROOF:
        assert S.PROVING not in ALLOWED[status]
        assert S.CLAIMED not in ALLOWED[status]


def test_invalid_transition_names_the_job_and_both_states() -> None:
    with pytest.raises(InvalidTransition, match=r"job 0x1f: cannot move from completed to proving") as err:
        transition(S.COMPLETED, S.PROVING, job_id="0x1f")
    assert err.value.current is S.COMPLETED and err.value.new is S.PROVING


@given(st.lists(st.sampled_from(list(JobStatus)), max_size=40))
def test_random_walks_obey_the_table(steps: list[JobStatus]) -> None:
    status = S.DISCOVERED
    for new in steps:
        try:
            status = transition(status, new)
        except InvalidTransition:
            assert new not in ALLOWED[status]
        else:
            assert status is new
    if status in FINAL:
        assert all(not can_transition(status, s) for s in JobStatus)
    assert TERMINAL >= FINAL
