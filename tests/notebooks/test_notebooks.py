"""Every notebook in notebooks/ runs top to bottom in a real Jupyter kernel, headless, without an error.

The kernel is this virtualenv's ipykernel, registered in a temporary Jupyter data directory (so the test
neither depends on nor touches the user's kernels). Notebooks are committed without outputs, so their
diffs stay readable and what a reader sees is what this test just produced.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL = "zkray-test-venv"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Register this interpreter's ipykernel under a temporary prefix and point Jupyter at it."""
    prefix = tmp_path_factory.mktemp("jupyter")
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", KERNEL],
                   check=True, capture_output=True, timeout=120)
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "JUPYTER_PLATFORM_DIRS")}
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    os.environ["JUPYTER_PLATFORM_DIRS"] = "1"
    yield KERNEL
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def run(path: Path, kernel_name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    try:
        client.execute()
    except CellExecutionError as e:
        pytest.fail(f"{path.name}: a cell failed:\n{e}")
    return nb


def outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def test_the_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"quickstart.ipynb", "benchmark.ipynb", "cluster.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: clear outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_error(path, kernel):
    nb = run(path, kernel)
    outs = outputs(nb)
    assert not [o for o in outs if o.output_type == "error"]
    assert any(o.output_type in ("stream", "execute_result", "display_data") for o in outs)
    if path.name == "benchmark.ipynb":
        images = [o for o in outs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
        assert len(images) >= 2, "the benchmark notebook should draw its time and per-phase plots"
    if path.name == "cluster.ipynb":
        images = [o for o in outs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
        assert len(images) >= 2, "the cluster notebook should draw its states/throughput and per-phase plots"
        text = "".join(o.get("text", "") for o in outs if o.output_type == "stream")
        assert "jobs/min" in text and text.count("skipped: deadline") == 3  # the capacity declined them
    if path.name == "quickstart.ipynb":
        text = "".join(o.get("text", "") for o in outs if o.output_type == "stream")
        assert text.count("VerificationError") >= 3 and "ReceiptError" in text  # tampering was rejected
        assert "sorted 200 u32s" in text
