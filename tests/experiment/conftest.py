"""An isolated state dir for experiments; held-out traces loaded from the project before it is swapped."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def held():
    """(held-out traces, video, compat) of the ABR family: nothing was fitted or chosen on these traces."""
    from streamlab.pipelines.experiment.simulate import held_out

    return held_out()


@pytest.fixture()
def experiment_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_store: str) -> Path:
    """``STREAMLAB_HOME`` (so ``<state>/experiments``) and the MLflow store in ``tmp_path``."""
    from streamlab.core import project

    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))
    project.settings.cache_clear()
    yield tmp_path
    project.settings.cache_clear()
