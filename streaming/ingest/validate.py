"""Checks a source must pass before any encode starts: where it lives, and what it is."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from streamlab.streaming.ingest.errors import (
    DimensionsOutOfRange,
    SourceNotFound,
    SourceOutsideAllowedRoots,
    SourceTooLong,
    SourceTooShort,
)
from streamlab.streaming.ingest.settings import IngestSettings

if TYPE_CHECKING:  # probe calls check_dimensions as soon as the stream header is read
    from streamlab.streaming.ingest.probe import ProbeResult


def resolve_source(source: Path, settings: IngestSettings) -> Path:
    """The source's real path, if it lies under an allowed root.

    Symlinks and ``..`` are resolved *before* the check: ``data/raw/x.mp4 -> /etc/shadow`` or
    ``data/raw/../../secret.mp4`` are outside. A relative source resolves against the current
    directory, as a shell user expects.
    """
    source = Path(source).expanduser()
    resolved = source.resolve()
    roots = settings.resolved_roots()
    if not any(resolved.is_relative_to(root) for root in roots):
        raise SourceOutsideAllowedRoots(source, resolved, roots)
    if not resolved.is_file():
        raise SourceNotFound(source)
    return resolved


def check_dimensions(path: Path, width: int, height: int, settings: IngestSettings) -> None:
    """The coded frame size, as the stream header declares it, within ``ingest.min/max_width/height``."""
    if not (settings.min_width <= width <= settings.max_width and settings.min_height <= height <= settings.max_height):
        raise DimensionsOutOfRange(
            path, width, height, (settings.min_width, settings.min_height), (settings.max_width, settings.max_height)
        )


def check_limits(path: Path, probe: ProbeResult, settings: IngestSettings) -> None:
    info = probe.info
    check_dimensions(path, info.width, info.height, settings)
    if info.duration_s < settings.min_duration_s:
        raise SourceTooShort(path, info.duration_s, settings.min_duration_s)
    if info.duration_s > settings.max_duration_s:
        raise SourceTooLong(path, info.duration_s, settings.max_duration_s)
