"""cluster.yaml and cluster-local.yaml pass the checks `ray up` runs before it touches a cloud.

`ray up` loads the YAML, `prepare_config` fills Ray's provider defaults and merges the set-up commands,
`validate_config` checks the result against Ray's JSON schema (ray/autoscaler/ray-schema.json) and its
cross-field rules, then the provider's `bootstrap_config` talks to the cloud. Everything up to that last
step runs here, offline, with the pinned Ray; the on-premise file goes through the whole of `ray up`'s
bootstrap (the `local` provider's needs no network). zkray's own expectations (GPU workers declare
GPUs, the head runs the node, the repository is what gets installed) are checked beside them.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray
import yaml
from ray._private.label_utils import validate_node_label_syntax, validate_node_labels
from ray.autoscaler._private.commands import _bootstrap_config
from ray.autoscaler._private.util import prepare_config, validate_config

from zkray.node.capacity import GPU_MEMORY_RESOURCE, per_gpu_memory_gib, without_small_gpus

ROOT = Path(__file__).resolve().parents[2]
COMMAND_KEYS = ("initialization_commands", "setup_commands", "head_setup_commands", "worker_setup_commands",
                "head_start_ray_commands", "worker_start_ray_commands")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def ray_up_checks(config: dict[str, Any]) -> dict[str, Any]:
    """What `ray up` does before the provider's cloud bootstrap."""
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


def all_commands(config: dict[str, Any]) -> list[str]:
    return [cmd for key in COMMAND_KEYS for cmd in config.get(key, [])]


def test_ray_version_is_pinned_and_installed():
    """The cluster installs Ray from pyproject.toml; `ray up` must run the same version locally."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [d for d in deps if d.startswith("ray[")]
    assert pins == [f"ray[default]=={ray.__version__}"]


@pytest.mark.parametrize("name", ["cluster.yaml", "cluster-local.yaml"])
def test_passes_ray_schema_and_config_checks(name):
    prepared = ray_up_checks(load(name))
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_aws_gpu_workers_autoscale_and_head_has_no_gpu():
    prepared = ray_up_checks(load("cluster.yaml"))
    assert prepared["provider"]["type"] == "aws"
    types = prepared["available_node_types"]
    head = types[prepared["head_node_type"]]
    assert head["resources"]["GPU"] == 0 and head["max_workers"] == 0
    gpu_types = {k: t for k, t in types.items() if t["resources"].get("GPU", 0) > 0}
    assert len(gpu_types) >= 2
    for name, t in gpu_types.items():
        assert t["min_workers"] == 0, f"{name}: GPU nodes should start on demand"
        assert t["max_workers"] >= 1
        assert re.match(r"^(g|p)\d", t["node_config"]["InstanceType"]), f"{name} is not a GPU instance type"
        gpus = t["resources"]["GPU"]
        assert sum(v for k, v in t["resources"].items() if k.startswith("accelerator_type:")) == gpus
        assert int(t["labels"]["zkray/gpu-memory-mib"]) > 0
    assert sum(t.get("min_workers", 0) for t in types.values()) <= prepared["max_workers"]
    assert 1 <= prepared["idle_timeout_minutes"] <= 60


DLAMI_PARAMETER = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id"


def test_aws_nodes_share_one_documented_image():
    """One image for every node type (a YAML anchor): AWS's Deep Learning Base OSS Nvidia Driver GPU AMI
    (Ubuntu 24.04, x86_64) by its public SSM parameter, which EC2 resolves at launch in any region; the
    file says how to pin the literal id instead. No placeholder is left to replace."""
    text = (ROOT / "cluster.yaml").read_text()
    config = load("cluster.yaml")
    images = {t["node_config"]["ImageId"] for t in config["available_node_types"].values()}
    assert images == {f"resolve:ssm:{DLAMI_PARAMETER}"}
    assert f"--name {DLAMI_PARAMETER}" in text and "describe-images" in text
    assert "REPLACE" not in text.upper()


# What one GPU of each instance type has (nvidia-smi memory.total, MiB) and how many it has.
GPU_FACTS = {"g5.2xlarge": ("A10G", 1, 23028), "g5.12xlarge": ("A10G", 4, 23028),
             "p4d.24xlarge": ("A100-40G", 8, 40960)}  # fmt: skip


def test_aws_gpu_types_declare_their_gpus_and_memory():
    """Each GPU type's resources match its instance type: GPU count, accelerator, and `gpu_memory_gib`
    (the sum over its GPUs, rounded down) so a prove task's declared segment memory picks a type that
    holds it, and a task needing more than an A10G's is sent only to the A100 type."""
    types = load("cluster.yaml")["available_node_types"]
    seen = set()
    for name, t in types.items():
        instance, resources = t["node_config"]["InstanceType"], t["resources"]
        if not resources.get("GPU"):
            assert GPU_MEMORY_RESOURCE not in resources, name
            continue
        accelerator, count, mib = GPU_FACTS[instance]
        seen.add(instance)
        assert resources["GPU"] == count and resources[f"accelerator_type:{accelerator}"] == count, name
        assert resources[GPU_MEMORY_RESOURCE] == count * (mib // 1024), name
        assert t["labels"]["zkray/gpu-memory-mib"] == str(mib), name
    assert seen == set(GPU_FACTS)
    holds_30 = {n for n, t in types.items() if without_small_gpus(t["resources"], 30.0).get("GPU")}
    assert holds_30 == {"gpu.a100.x8"}
    assert per_gpu_memory_gib(types["gpu.a10g.x4"]["resources"]) == 22


def test_local_machines_declare_their_gpu_memory():
    """cluster-local.yaml starts Ray with `--resources` from `python -m zkray.node.capacity` (nvidia-smi);
    that command prints a JSON object Ray accepts: {} here, where there is no GPU."""
    config = load("cluster-local.yaml")
    starts = [c for c in config["head_start_ray_commands"] + config["worker_start_ray_commands"] if "ray start" in c]
    assert len(starts) == 2
    for cmd in starts:
        assert '--resources="$(~/zkray/.venv/bin/python -m zkray.node.capacity)"' in cmd
    out = subprocess.run([sys.executable, "-m", "zkray.node.capacity"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True).stdout  # fmt: skip
    resources = json.loads(out)
    assert isinstance(resources, dict) and all(isinstance(v, float) and v > 0 for v in resources.values())


def test_node_labels_are_valid_ray_labels():
    for t in load("cluster.yaml")["available_node_types"].values():
        validate_node_labels(t.get("labels"))
        validate_node_label_syntax(t.get("labels"))


def test_local_passes_the_whole_ray_up_bootstrap():
    """The `local` provider's bootstrap is offline, so `ray up`'s own function runs to the end."""
    config = load("cluster-local.yaml")
    resolved = _bootstrap_config(copy.deepcopy(config), no_config_cache=True)
    assert resolved["provider"]["type"] == "local"
    node_type = resolved["available_node_types"][resolved["head_node_type"]]
    workers = config["provider"]["worker_ips"]
    assert node_type["min_workers"] == node_type["max_workers"] == len(workers)
    assert config["provider"]["head_ip"] not in workers


@pytest.mark.parametrize("name", ["cluster.yaml", "cluster-local.yaml"])
def test_installs_this_repository_and_starts_the_node(name):
    config = load(name)
    assert config["file_mounts"] == {"~/zkray": "."}
    assert (ROOT / ".gitignore").is_file() and config["rsync_filter"] == [".gitignore"]
    setup = " ; ".join(config["setup_commands"] + config.get("head_setup_commands", []))
    assert "scripts/setup.sh" in setup and (ROOT / "scripts/setup.sh").is_file()
    head = " ; ".join(config["head_start_ray_commands"])
    assert "ray start --head" in head and "-m zkray.serve" in head and "RAY_ADDRESS=auto" in head
    assert "zkray.env" in head
    assert all("ray start --address=$RAY_HEAD_IP:6379" in c for c in config["worker_start_ray_commands"][1:])
    # Ray from the venv that pyproject.toml pinned, never a separately installed one.
    for cmd in config["head_start_ray_commands"] + config["worker_start_ray_commands"]:
        assert not re.search(r"(^|[;&]\s*)ray ", cmd), cmd


@pytest.mark.parametrize("name", ["cluster.yaml", "cluster-local.yaml"])
def test_every_command_is_valid_bash(name):
    for cmd in all_commands(ray_up_checks(load(name))):
        result = subprocess.run(["bash", "-n", "-c", cmd], capture_output=True, text=True, timeout=10)
        assert result.returncode == 0, f"{cmd!r}: {result.stderr}"


@pytest.mark.parametrize(
    "breakage",
    [
        lambda c: c["available_node_types"]["gpu.a10g.x1"].pop("resources"),
        lambda c: c["available_node_types"]["gpu.a10g.x1"]["resources"].update(GPU=0.5),
        lambda c: c.update(idle_timeout_minutes="ten"),
        lambda c: c.update(head_node_type="missing"),
        lambda c: c.update(max_workers=0, available_node_types={
            **c["available_node_types"],
            "cpu.c7i": {**c["available_node_types"]["cpu.c7i"], "min_workers": 1}}),
        lambda c: c.update(unknown_field=1),
    ],
    ids=["no-resources", "fractional-gpu", "timeout-type", "head-type", "min-over-max", "unknown-field"],
)
def test_the_checks_reject_broken_configs(breakage):
    """The validation is not vacuous: Ray's checks reject what `ray up` would."""
    config = load("cluster.yaml")
    breakage(config)
    with pytest.raises((jsonschema.ValidationError, ValueError)):
        ray_up_checks(config)


def test_node_secrets_file_stays_out_of_git_and_the_copy():
    """zkray.env holds the prover's key: .gitignore keeps it out of commits and (rsync_filter) of file_mounts."""
    result = subprocess.run(["git", "check-ignore", "-q", "zkray.env"], cwd=ROOT, timeout=10)
    assert result.returncode == 0
    for name in ("cluster.yaml", "cluster-local.yaml"):
        assert "~/zkray.env" in " ".join(load(name)["head_start_ray_commands"])


@pytest.mark.parametrize("name", ["cluster.yaml", "cluster-local.yaml"])
def test_head_start_commands_pass_the_env_file_and_track_the_node_pid(name, tmp_path):
    """Run the head's node start and stop commands for real, in a scratch HOME with the repository at
    ~/zkray; only the node itself is swapped for a small Python program that prints what it was given and
    waits, so the shell plumbing (env file, RAY_ADDRESS, log, pid file, restart kill) is what is tested."""
    commands = load(name)["head_start_ray_commands"]
    stop = next(c for c in commands if "kill" in c)
    start = next(c for c in commands if "-m zkray.serve" in c)
    stand_in = ("import os, time; print(os.environ['ZKRAY_RPC_URL'], os.environ['RAY_ADDRESS'], flush=True); "
                "time.sleep(60)")
    start = start.replace("-m zkray.serve", f'-c "{stand_in}"')
    (tmp_path / "zkray").symlink_to(ROOT)
    (tmp_path / "zkray.env").write_text("ZKRAY_RPC_URL=http://rpc.test:8545\n")
    env = {**os.environ, "HOME": str(tmp_path)}
    pid = None
    try:
        subprocess.run(["bash", "-c", start], env=env, check=True, timeout=30)
        pid = int((tmp_path / "zkray-serve.pid").read_text())
        log = tmp_path / "zkray-serve.log"
        for _ in range(300):  # bounded wait for the stand-in's first line (≤ 30 s)
            if log.exists() and log.read_text():
                break
            time.sleep(0.1)
        assert log.read_text().split() == ["http://rpc.test:8545", "auto"]
        assert "python" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        subprocess.run(["bash", "-c", stop], env=env, check=True, timeout=30)
        assert not (tmp_path / "zkray-serve.pid").exists()
        for _ in range(300):  # the stop command killed the node it started (≤ 30 s)
            if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the stop command did not end the node")
        pid = None
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
