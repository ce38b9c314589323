"""Pure decisions of the prover node: no Ray, no I/O, no clock reads (time comes in as `now`).

Actors and adapters wrap these; tests drive them with invented clocks. One module per decision:
breaker, retry, ratelimit, scoring, queue, profitability, degradation, compression, hashring, jobs.
"""

from zkray.policy.breaker import BreakerState, CircuitBreaker
from zkray.policy.compression import Codec, Purpose, choose_codec, compress, decompress
from zkray.policy.degradation import (
    DegradationConfig,
    DegradationState,
    FeatureFlags,
    HealthSignals,
    Mode,
    ProverBackend,
    flags,
    target_mode,
)
from zkray.policy.degradation import transition as degrade
from zkray.policy.errors import (
    CompressionError,
    HashRingEmpty,
    InvalidTransition,
    PolicyError,
)
from zkray.policy.hashring import HashRing
from zkray.policy.jobs import (
    HOLDS_CLAIM,
    HOLDS_PROOF,
    RETRY_FROM,
    TERMINAL,
    WORKING,
    JobStatus,
    is_terminal,
    retry_status,
)
from zkray.policy.jobs import transition as job_transition
from zkray.policy.profitability import (
    ProvingSpeed,
    Verdict,
    check_deadline,
    check_profit,
    expected_payout,
    profit_margin,
)
from zkray.policy.queue import BoundedPriorityQueue, Entry, PushOutcome, PushResult
from zkray.policy.ratelimit import SlidingWindow, TokenBucket
from zkray.policy.retry import (
    DEFAULT_RETRY,
    SUBMISSION_RETRY,
    ErrorKind,
    Retrier,
    RetryDecision,
    RetryPolicy,
    classify,
)
from zkray.policy.scoring import JobFacts, ScoreWeights, current_tip, prover_payout, score

__all__ = [
    "DEFAULT_RETRY",
    "HOLDS_CLAIM",
    "HOLDS_PROOF",
    "RETRY_FROM",
    "SUBMISSION_RETRY",
    "TERMINAL",
    "WORKING",
    "BoundedPriorityQueue",
    "BreakerState",
    "CircuitBreaker",
    "Codec",
    "CompressionError",
    "DegradationConfig",
    "DegradationState",
    "Entry",
    "ErrorKind",
    "FeatureFlags",
    "HashRing",
    "HashRingEmpty",
    "HealthSignals",
    "InvalidTransition",
    "JobFacts",
    "JobStatus",
    "Mode",
    "PolicyError",
    "ProverBackend",
    "ProvingSpeed",
    "Purpose",
    "PushOutcome",
    "PushResult",
    "Retrier",
    "RetryDecision",
    "RetryPolicy",
    "ScoreWeights",
    "SlidingWindow",
    "TokenBucket",
    "Verdict",
    "check_deadline",
    "check_profit",
    "choose_codec",
    "classify",
    "compress",
    "current_tip",
    "decompress",
    "degrade",
    "expected_payout",
    "flags",
    "is_terminal",
    "job_transition",
    "profit_margin",
    "prover_payout",
    "retry_status",
    "score",
    "target_mode",
]
