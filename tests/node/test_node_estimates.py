"""Cycle estimates: what preflight measured for a program scores its next jobs from the moment they are
offered (real SQLite journal and the plain scheduler class: no Ray needed for the scoring logic)."""

from __future__ import annotations

import time
from pathlib import Path

from actors.scheduler import JobOffer, JobScheduler
from zkray.node.estimates import EMA_WEIGHT, CycleEstimates
from zkray.store import JobJournal

LONG, SHORT = "0x" + "aa" * 32, "0x" + "bb" * 32  # two programs' image ids


def _offer(job_id: str, image: str, digest: str, cycles: int | None, now: float) -> JobOffer:
    return JobOffer(job_id, "engine", image, "data:,", digest, tip_wei=10**16, requested_at=now,
                    expires_at=now + 3600, cycles=cycles)  # fmt: skip


def test_a_run_is_estimated_exactly_and_a_new_input_by_its_programs_average(tmp_path: Path) -> None:
    with JobJournal(tmp_path / "node.sqlite") as journal:
        estimates = CycleEstimates(journal)
        assert estimates.estimate(LONG, "0x01") is None  # never measured: the scheduler's default applies
        estimates.record(LONG, "0x01", 40_000_000)
        estimates.record("0X" + LONG[2:].upper(), "01", 20_000_000)  # ids are normalised: the same run again
        assert estimates.estimate(LONG, "0x01") == 20_000_000  # preflight is deterministic: the latest run
        average = EMA_WEIGHT * 20_000_000 + (1 - EMA_WEIGHT) * 40_000_000
        assert estimates.estimate(LONG, "0x02") == average  # an input never run: the program's average
    with JobJournal(tmp_path / "node.sqlite") as journal:  # kept in the journal: survives a restart
        assert CycleEstimates(journal).estimate(LONG, "0x03") == average


def test_a_job_whose_program_is_known_to_be_long_scores_below_an_equally_tipped_short_one(tmp_path: Path) -> None:
    now = time.time()
    path = tmp_path / "node.sqlite"
    with JobJournal(path) as journal:
        estimates = CycleEstimates(journal)
        estimates.record(LONG, "0x01", 50_000_000)  # earlier preflights of each program
        estimates.record(SHORT, "0x01", 2_000)
        scheduler = JobScheduler(path, clock=lambda: now)
        # offered in the worse order, new inputs of both programs, with what the node estimates for them
        scheduler.offer(_offer("long", LONG, "0x02", estimates.estimate(LONG, "0x02"), now), now)
        scheduler.offer(_offer("short", SHORT, "0x02", estimates.estimate(SHORT, "0x02"), now), now)
        view = scheduler.snapshot(now)
        assert view["best"]["job_id"] == "short" and view["best"]["score"] > view["worst"]["score"]
        first = scheduler.next_job(now)
        assert first is not None and first.id == "short"
        # without the estimates both would score alike (the default cycles): the order would be arrival's
        blind = JobScheduler(tmp_path / "blind.sqlite", clock=lambda: now)
        blind.offer(_offer("long", LONG, "0x02", None, now), now)
        blind.offer(_offer("short", SHORT, "0x02", None, now), now)
        assert blind.snapshot(now)["best"]["score"] == blind.snapshot(now)["worst"]["score"]
        scheduler.close()
        blind.close()
