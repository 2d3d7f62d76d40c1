"""Checks a source must pass before any encode starts: where it lives, and what it is."""

from __future__ import annotations

from pathlib import Path

from streamlab.streaming.ingest.errors import (
    DimensionsOutOfRange,
    SourceNotFound,
    SourceOutsideAllowedRoots,
    SourceTooLong,
    SourceTooShort,
)
from streamlab.streaming.ingest.probe import ProbeResult
from streamlab.streaming.ingest.settings import IngestSettings


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


def check_limits(path: Path, probe: ProbeResult, settings: IngestSettings) -> None:
    info = probe.info
    if not (
        settings.min_width <= info.width <= settings.max_width
        and settings.min_height <= info.height <= settings.max_height
    ):
        raise DimensionsOutOfRange(
            path,
            info.width,
            info.height,
            (settings.min_width, settings.min_height),
            (settings.max_width, settings.max_height),
        )
    if info.duration_s < settings.min_duration_s:
        raise SourceTooShort(path, info.duration_s, settings.min_duration_s)
    if info.duration_s > settings.max_duration_s:
        raise SourceTooLong(path, info.duration_s, settings.max_duration_s)
