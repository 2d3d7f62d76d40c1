"""The recommenders notebook runs top to bottom in the project venv's kernel."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.notebooks import printed, run_notebook


@pytest.mark.slow
def test_notebook_runs_top_to_bottom_in_the_venv_kernel(tmp_path, monkeypatch, mlflow_store):
    notebook = run_notebook("recommenders.ipynb", tmp_path, monkeypatch, timeout_s=600)
    assert Path(printed(notebook, 1).strip()) == Path(sys.prefix)  # the kernel ran in this venv
