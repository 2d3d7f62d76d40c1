"""Project-wide settings (paths, tracking, Ray) and where things live on disk."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from streamlab.core.config import load_config


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


def checkout_root() -> Path | None:
    """The source checkout this package runs from (editable install), or ``None`` for an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    marker = root / "pyproject.toml"
    if marker.is_file() and (root / "streamlab" / "core").is_dir() and 'name = "streamlab"' in marker.read_text():
        return root
    return None


def home() -> Path:
    """The root relative paths resolve against.

    ``STREAMLAB_HOME`` if set; else the checkout when running from one (so ``.state/`` and
    ``data/raw/`` are the project's wherever the command is typed); else, for an installed wheel,
    the current folder, as for any command-line tool.
    """
    env = os.environ.get("STREAMLAB_HOME")
    if env:
        return Path(env).resolve()
    return checkout_root() or Path.cwd().resolve()


def resolve(path: Path | str) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else (home() / path).resolve()


def source_path(path: Path | str) -> Path:
    """A file the project ships (the player's static page), resolved against the checkout, not ``home()``.

    ``STREAMLAB_HOME`` moves state and data; the code's own assets stay in the checkout, so a demo run with a
    private home still serves the player page. An installed wheel has no checkout: then it is ``home()``'s.
    """
    path = Path(path).expanduser()
    return path if path.is_absolute() else ((checkout_root() or home()) / path).resolve()


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
