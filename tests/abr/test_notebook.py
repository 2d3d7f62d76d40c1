"""The ABR notebook runs top to bottom, in this venv's Python, with its small budget."""

from __future__ import annotations

import sys

import pytest

from tests.notebooks import images, printed, run_notebook


@pytest.mark.slow
def test_notebook_executes_with_the_venv_kernel(tmp_path, monkeypatch):
    notebook = run_notebook("abr.ipynb", tmp_path, monkeypatch, timeout_s=240)
    assert printed(notebook, 1).strip() == sys.executable
    assert images(notebook) >= 3
