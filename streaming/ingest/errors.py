"""What can be wrong with an ingest request; each error names the file or value and what is valid."""

from __future__ import annotations

from pathlib import Path

from streamlab.core.errors import UsageError


class IngestError(UsageError):
    """Base class: the source or the request cannot be ingested."""


class SourceNotFound(IngestError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"source {path} does not exist (or is not a regular file)")


class SourceOutsideAllowedRoots(IngestError):
    def __init__(self, path: Path, resolved: Path, roots: list[Path]) -> None:
        shown = ", ".join(str(r) for r in roots) or "(none configured)"
        where = f"{path} (resolves to {resolved})" if Path(path) != resolved else str(path)
        super().__init__(
            f"source {where} is outside the allowed input roots: {shown}; "
            "move it under one of them or extend ingest.allowed_roots"
        )


class NotAVideo(IngestError):
    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"source {path} is not a video file FFmpeg can read ({detail})")


class CorruptSource(IngestError):
    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"source {path} is truncated or corrupt: {detail}")


class NoVideoStream(IngestError):
    def __init__(self, path: Path, streams: str) -> None:
        super().__init__(f"source {path} has no video stream (found: {streams}); a title needs video")


class EmptySource(IngestError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"source {path} contains no video frames (zero duration)")


class SourceTooShort(IngestError):
    def __init__(self, path: Path, duration_s: float, min_duration_s: float) -> None:
        super().__init__(
            f"source {path} lasts {duration_s:.2f} s; a title must last at least {min_duration_s:g} s "
            "(ingest.min_duration_s)"
        )


class SourceTooLong(IngestError):
    def __init__(self, path: Path, duration_s: float, max_duration_s: float) -> None:
        super().__init__(f"source {path} lasts {duration_s:.0f} s, above ingest.max_duration_s={max_duration_s:g} s")


class DimensionsOutOfRange(IngestError):
    def __init__(self, path: Path, width: int, height: int, min_wh: tuple[int, int], max_wh: tuple[int, int]) -> None:
        super().__init__(
            f"source {path} is {width}x{height}; accepted sizes are {min_wh[0]}x{min_wh[1]} up to "
            f"{max_wh[0]}x{max_wh[1]} (ingest.min_width/min_height/max_width/max_height)"
        )


class TitleExists(IngestError):
    def __init__(self, title_id: str, where: Path) -> None:
        super().__init__(f"title {title_id!r} is already published at {where}; pass publish.replace=true to replace it")


class UnknownOption(IngestError):
    def __init__(self, what: str, value: str, valid: list[str]) -> None:
        super().__init__(f"{what} {value!r} is not supported; valid: {', '.join(valid)}")
