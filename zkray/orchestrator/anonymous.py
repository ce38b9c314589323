"""Anonymous mode: prove a built-in demo task again and again, with no orchestrator and no network.

As the Nexus node's `prove_anonymously`: program "fib_input_initial" on (n, a, b) = (9, 1, 1), whose
answer is F(9) = 55. Each proof is verified locally, so the mode doubles as a self-test of the prover.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time

from zkray.orchestrator import programs
from zkray.orchestrator.stats import WorkerStats

log = logging.getLogger(__name__)

DEMO_PROGRAM = "fib_input_initial"
DEMO_INPUTS = struct.pack("<III", 9, 1, 1)


async def run_anonymous(
    cancel: asyncio.Event, *, interval_s: float = 0.3, max_proofs: int | None = None
) -> WorkerStats:
    """Prove and verify the demo every `interval_s` until `cancel` is set or `max_proofs` are done."""
    stats = WorkerStats()
    while not cancel.is_set() and (max_proofs is None or stats.proofs_generated < max_proofs):
        started = time.monotonic()
        proof = await asyncio.to_thread(programs.prove_task, DEMO_PROGRAM, DEMO_INPUTS)
        receipt = await asyncio.to_thread(programs.verify_proof, DEMO_PROGRAM, DEMO_INPUTS, proof)
        stats.proofs_generated += 1
        stats.prove_seconds += time.monotonic() - started
        output = struct.unpack_from("<I", receipt.journal, len(DEMO_INPUTS))[0]
        log.info("anonymous proof %d: %s(9, 1, 1) = %d, %d bytes, verified", stats.proofs_generated,
                 DEMO_PROGRAM, output, len(proof))  # fmt: skip
        try:
            await asyncio.wait_for(cancel.wait(), interval_s)
        except TimeoutError:
            pass
    return stats
