"""The per-title notebook executes top to bottom on the project's interpreter (nbclient)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "per_title_encoding.ipynb"


@pytest.mark.slow
def test_per_title_notebook_runs(tmp_path: Path, mlflow_store: str) -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The native "python3" kernel is this interpreter (the venv's) when ipykernel is installed in it.
    os.environ.setdefault("STREAMLAB_PROGRESS", "0")
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "-20.0" in outputs and "decision CPU" in outputs and "libx264" in outputs
    assert sys.executable  # the kernel ran where this test runs
