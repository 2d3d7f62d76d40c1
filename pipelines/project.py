"""Project-wide settings (paths, tracking, Ray) and where things live on disk."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from configs import load_config


class PathSettings(BaseModel):
    raw_data: Path = Path("data/raw")
    state: Path = Path(".state")
    media_root: Path = Path(".state/media")
    shared: Path = Path("../shared")


class TrackingSettings(BaseModel):
    uri: str | None = None
    artifact_root: str | None = None


class RaySettings(BaseModel):
    address: str | None = None
    num_cpus: int | None = None


class ProjectSettings(BaseModel):
    paths: PathSettings = PathSettings()
    tracking: TrackingSettings = TrackingSettings()
    ray: RaySettings = RaySettings()


def home() -> Path:
    """The root relative paths resolve against: ``STREAMLAB_HOME`` or the repository root."""
    env = os.environ.get("STREAMLAB_HOME")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[1]


def resolve(path: Path | str) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else (home() / path).resolve()


@lru_cache(maxsize=1)
def settings() -> ProjectSettings:
    return load_config("project", ProjectSettings)


def raw_data_dir() -> Path:
    return resolve(settings().paths.raw_data)


def state_dir() -> Path:
    return resolve(settings().paths.state)


def media_root() -> Path:
    env = os.environ.get("STREAMLAB_MEDIA_ROOT")
    return resolve(env) if env else resolve(settings().paths.media_root)


def shared_dir() -> Path:
    env = os.environ.get("STREAMLAB_SHARED")
    return resolve(env) if env else resolve(settings().paths.shared)
