"""ABR fixtures: the real training traces and chunk sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.models.abr.traces import Trace, load_traces
from streamlab.models.abr.video import Video, load_video


@pytest.fixture(scope="session")
def abr_dir() -> Path:
    from streamlab.core import project

    path = project.raw_data_dir() / "abr"
    if not (path / "train_traces").is_dir():
        pytest.fail(f"ABR data missing under {path}: run `streamlab data fetch`")
    return path


@pytest.fixture(scope="session")
def traces(abr_dir: Path) -> list[Trace]:
    return load_traces(abr_dir / "train_traces")


@pytest.fixture(scope="session")
def video(abr_dir: Path) -> Video:
    return load_video(abr_dir / "video_sizes")


@pytest.fixture(scope="session")
def few_traces(traces: list[Trace]) -> list[Trace]:
    """Four real traces: two Norway HSDPA, two FCC (fast tests)."""
    norway = [t for t in traces if not t.name.startswith("trace_")][:2]
    fcc = [t for t in traces if t.name.startswith("trace_")][:2]
    return norway + fcc


@pytest.fixture(scope="session")
def video_sizes(video: Video):
    """The chunk-size table ``[level, chunk]`` (bytes)."""
    return video.sizes_bytes
