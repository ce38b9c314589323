"""GPU annotation and backend choice as pure functions over node resource dicts (no GPUs needed)."""

from __future__ import annotations

import pytest

from zkray.node.config import ProvingConfig
from zkray.node.proving import NoCapableNode, TaskShape, choose_backend, runnable_backends, shape_for
from zkray.node.proving.placement import capable_nodes, require_runnable
from zkray.node.proving.pool import _slots
from zkray.policy.breaker import BreakerState
from zkray.policy.degradation import HealthSignals, Mode, flags
from zkray.policy.degradation import ProverBackend as B

CPU_NODE = {"CPU": 8.0, "memory": 1e10}
GPU_NODE = {"CPU": 8.0, "GPU": 1.0}
TWO_GPU_NODE = {"CPU": 16.0, "GPU": 2.0}


def test_gpu_tasks_ask_for_gpus_and_cpu_tasks_do_not() -> None:
    config = ProvingConfig(gpus_per_task=1.0, cpus_per_gpu_task=2.0, cpus_per_task=4.0)
    assert shape_for(B.GPU, config).ray_options() == {"num_cpus": 2.0, "num_gpus": 1.0}
    assert shape_for(B.CPU, config).ray_options() == {"num_cpus": 4.0}
    assert "num_gpus" not in shape_for(B.REMOTE, config).ray_options()


def test_gpu_backend_only_when_some_node_has_the_gpus_a_task_needs() -> None:
    config = ProvingConfig()
    assert runnable_backends([CPU_NODE], config, remote_configured=False) == (B.CPU,)
    assert runnable_backends([CPU_NODE, GPU_NODE], config, remote_configured=False) == (B.GPU, B.CPU)
    assert runnable_backends([CPU_NODE, GPU_NODE], config, remote_configured=True) == (B.REMOTE, B.GPU, B.CPU)
    two = ProvingConfig(gpus_per_task=2.0)  # checked per node: two one-GPU nodes cannot run a two-GPU task
    assert runnable_backends([GPU_NODE, GPU_NODE], two, remote_configured=False) == (B.CPU,)
    assert runnable_backends([GPU_NODE, TWO_GPU_NODE], two, remote_configured=False) == (B.GPU, B.CPU)
    assert capable_nodes(TaskShape(1.0, 2.0), [GPU_NODE, TWO_GPU_NODE]) == 1
    no_gpu = ProvingConfig(use_gpu=False)
    assert runnable_backends([GPU_NODE], no_gpu, remote_configured=False) == (B.CPU,)


def test_a_task_no_node_can_run_is_refused_before_scheduling() -> None:
    gpu_only = ProvingConfig(backends=(B.GPU,))
    with pytest.raises(NoCapableNode, match="add a node"):
        require_runnable([CPU_NODE], gpu_only, remote_configured=False)
    with pytest.raises(NoCapableNode, match=r"8\.0 CPU"):
        require_runnable([CPU_NODE], ProvingConfig(cpus_per_task=16.0), remote_configured=False)
    require_runnable([GPU_NODE], gpu_only, remote_configured=False)


def test_fallback_chain_follows_degradation_breakers_and_past_failures() -> None:
    runnable = (B.REMOTE, B.GPU, B.CPU)
    healthy = flags(Mode.NORMAL, HealthSignals(remote_prover=BreakerState.CLOSED, gpu=BreakerState.CLOSED))
    chain = healthy.prover_chain()
    assert choose_backend(chain, runnable, (), lambda b: True) is B.REMOTE
    assert choose_backend(chain, runnable, {B.REMOTE}, lambda b: True) is B.GPU  # remote failed this job
    assert choose_backend(chain, runnable, {B.REMOTE, B.GPU, B.CPU}, lambda b: True) is B.CPU  # last resort
    assert choose_backend(chain, runnable, (), lambda b: b is not B.REMOTE) is B.GPU  # remote breaker open
    minimal = flags(Mode.MINIMAL, HealthSignals(remote_prover=BreakerState.CLOSED, gpu=BreakerState.CLOSED))
    assert choose_backend(minimal.prover_chain(), runnable, (), lambda b: True) is B.GPU  # no remote in MINIMAL
    gpu_open = flags(Mode.DEGRADED, HealthSignals(gpu=BreakerState.OPEN))
    assert choose_backend(gpu_open.prover_chain(), runnable, (), lambda b: True) is B.CPU
    unavailable = flags(Mode.UNAVAILABLE, HealthSignals())
    assert choose_backend(unavailable.prover_chain(), runnable, (), lambda b: True) is None
    assert choose_backend(chain, (B.GPU,), (), lambda b: False) is None  # everything refused: the job waits


def test_slots_count_what_runs_at_once_per_node() -> None:
    assert _slots(TaskShape(1.0), [CPU_NODE, {"CPU": 2.5}], cap=100) == 10
    assert _slots(TaskShape(1.0, 1.0), [CPU_NODE, GPU_NODE, TWO_GPU_NODE], cap=100) == 3
    assert _slots(TaskShape(0.0), [CPU_NODE], cap=7) == 7  # a remote call takes no slot: the pool's cap
    assert _slots(TaskShape(1.0), [CPU_NODE], cap=4) == 4
