"""Run a notebook top to bottom on *this* interpreter (the project venv), as CI does for every area.

A kernelspec named ``python3`` pointing at ``sys.executable`` is installed in a temporary prefix
and put first on ``JUPYTER_PATH``, so the notebook can never silently run on a system Python.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, timeout_s: int = 300):
    import nbformat
    from nbclient import NotebookClient

    prefix = tmp_path / "kernels"
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", "python3"],
                   check=True, capture_output=True)
    spec = json.loads((prefix / "share" / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    monkeypatch.setenv("STREAMLAB_PROGRESS", "0")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, kernel_name="python3", timeout=timeout_s,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return notebook


def printed(notebook, cell: int | None = None) -> str:
    """Text the notebook printed: one cell's, or every code cell's."""
    cells = [notebook.cells[cell]] if cell is not None else [c for c in notebook.cells if c.cell_type == "code"]
    return "".join(o.get("text", "") for c in cells for o in c.get("outputs", []))


def images(notebook) -> int:
    return sum("image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", []))
