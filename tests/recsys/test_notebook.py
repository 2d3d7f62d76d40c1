"""The recommenders notebook runs top to bottom in the project venv's kernel."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "recommenders.ipynb"


@pytest.mark.slow
def test_notebook_runs_top_to_bottom_in_the_venv_kernel(tmp_path, monkeypatch, mlflow_store):
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert Path(spec.resource_dir).resolve().is_relative_to(Path(sys.prefix).resolve()), spec.resource_dir
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for o in notebook.cells[1].outputs)
    assert Path(printed.strip()) == Path(sys.prefix)  # the kernel ran in this venv, not a system python
