"""A published title with a full ladder (4K HEVC down to 360p), and an isolated state dir for experiments."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.streaming.edge.sample_ladder import write_ladder_title


@pytest.fixture(scope="module")
def ladder_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("edge-media")
    write_ladder_title(root)
    return root


@pytest.fixture()
def edge_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``STREAMLAB_HOME`` in ``tmp_path``: experiments and live state of this test only."""
    from streamlab.core import project

    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))
    project.settings.cache_clear()
    yield tmp_path
    project.settings.cache_clear()
