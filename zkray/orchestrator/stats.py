"""What a pull worker has done, as counters, and as the report it sends to the orchestrator."""

from __future__ import annotations

from dataclasses import dataclass

from zkray.orchestrator.wire import pb


@dataclass
class WorkerStats:
    """Counters since the worker started; `gave_up` is set when repeated 404s stopped the fetching."""

    fetch_requests: int = 0
    tasks_fetched: int = 0
    duplicates_skipped: int = 0
    no_tasks: int = 0
    rate_limited: int = 0
    fetch_errors: int = 0
    proofs_generated: int = 0
    proofs_failed: int = 0
    proofs_submitted: int = 0
    submissions_rejected: int = 0
    submissions_abandoned: int = 0
    submission_retries: int = 0
    stats_reports: int = 0
    prove_seconds: float = 0.0
    gave_up: bool = False

    @property
    def mean_prove_seconds(self) -> float:
        return self.prove_seconds / self.proofs_generated if self.proofs_generated else 0.0

    def report(self, node_id: str, public_key: bytes, queue_depth: int, uptime_s: float) -> pb.NodeStatsReport:
        """The NodeStatsReport message for these counters."""
        return pb.NodeStatsReport(
            node_id=node_id,
            ed25519_public_key=public_key,
            tasks_fetched=self.tasks_fetched,
            duplicates_skipped=self.duplicates_skipped,
            proofs_generated=self.proofs_generated,
            proofs_submitted=self.proofs_submitted,
            proofs_failed=self.proofs_failed,
            submissions_rejected=self.submissions_rejected,
            queue_depth=queue_depth,
            mean_prove_seconds=self.mean_prove_seconds,
            uptime_seconds=uptime_s,
            submissions_abandoned=self.submissions_abandoned,
            rate_limited=self.rate_limited,
            no_tasks=self.no_tasks,
        )
