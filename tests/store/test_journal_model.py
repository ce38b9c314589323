"""Random operation sequences on a real journal file, checked against a dictionary model."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkray.policy.errors import InvalidTransition
from zkray.policy.jobs import ALLOWED, JobStatus
from zkray.store import JobJournal, StatusConflict

_runs = itertools.count()
ops = st.lists(
    st.tuples(
        st.integers(0, 4),  # which job
        st.sampled_from(list(JobStatus)),  # target status
        st.none() | st.sampled_from(list(JobStatus)),  # expected status (compare-and-set) or none
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops)
def test_the_journal_behaves_like_the_transition_table(tmp_path: Path, steps) -> None:
    run = next(_runs)
    model: dict[str, JobStatus] = {}
    with JobJournal(tmp_path / f"model-{run}.sqlite3") as journal:
        for n, new, expected in steps:
            job_id = f"j{n}"
            if job_id not in model:
                journal.add_job(
                    job_id, source="t", image_id="i", input_url="u", input_digest="d", tip_wei=1, expires_at=1e9
                )
                model[job_id] = JobStatus.DISCOVERED
            current = model[job_id]
            try:
                journal.transition(job_id, new, expected=expected)
            except StatusConflict:
                assert expected is not None and expected is not current
            except InvalidTransition:
                assert expected in (None, current) and new not in ALLOWED[current]
            else:
                assert expected in (None, current) and new in ALLOWED[current]
                model[job_id] = new
        for job_id, status in model.items():
            assert journal.get(job_id).status is status
            assert journal.events(job_id)[-1].to_status is status
