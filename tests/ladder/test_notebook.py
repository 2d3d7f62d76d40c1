"""The per-title notebook executes top to bottom on the project's interpreter (nbclient)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.notebooks import printed, run_notebook


@pytest.mark.slow
def test_per_title_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_store: str) -> None:
    outputs = printed(run_notebook("per_title_encoding.ipynb", tmp_path, monkeypatch))
    assert "-20.0" in outputs and "decision CPU" in outputs and "libx264" in outputs
