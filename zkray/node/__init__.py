"""The prover node: wiring of job sources, the scheduler, Ray proving and submission.

`zkray.node.proving` runs proofs as Ray tasks (GPU-annotated where the cluster has GPUs) with the
fallback chain remote → GPU → CPU, timeouts that kill hung tasks, and retries per the retry policy.
"""
