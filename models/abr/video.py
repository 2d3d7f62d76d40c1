"""The benchmark title: bitrate ladder and per-chunk sizes.

Constants from the Pensieve evaluation setup (Mao et al., SIGCOMM 2017, ``sim/env.py``): six
renditions at 300..4300 kbit/s, 48 chunks of 4 s. Chunk sizes come from ``video_size_<level>``
files (one integer byte count per line). The reference RobustMPC reads one line past the last
chunk, so :class:`Video` keeps every line of the file (49 in the shipped set).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamlab.core import project
from streamlab.models.abr.errors import VideoSizeError, VideoSizesMissingError

BITRATES_KBPS: tuple[int, ...] = (300, 750, 1200, 1850, 2850, 4300)
"""The Pensieve ladder (kbit/s), lowest first."""
CHUNK_DURATION_S = 4.0
"""Seconds of video per chunk (Pensieve ``VIDEO_CHUNCK_LEN`` = 4000 ms)."""
TOTAL_CHUNKS = 48
"""Chunks per title (Pensieve ``TOTAL_VIDEO_CHUNCK``)."""
DEFAULT_LEVEL = 1
"""The first chunk is fetched at 750 kbit/s before any policy decides (Pensieve ``DEFAULT_QUALITY``)."""


@dataclass(frozen=True)
class Video:
    """Chunk sizes in bytes, ``sizes_bytes[level, chunk]``; at least :data:`TOTAL_CHUNKS` columns."""

    sizes_bytes: np.ndarray
    bitrates_kbps: tuple[int, ...] = BITRATES_KBPS
    total_chunks: int = TOTAL_CHUNKS

    @property
    def levels(self) -> int:
        return len(self.bitrates_kbps)

    def size_bytes(self, level: int, chunk: int) -> float:
        """Size of ``chunk`` at ``level``; past the table's end the last line is reused."""
        return float(self.sizes_bytes[level, min(chunk, self.sizes_bytes.shape[1] - 1)])

    def next_sizes_bytes(self, chunk: int) -> np.ndarray:
        return self.sizes_bytes[:, min(chunk, self.sizes_bytes.shape[1] - 1)]


def default_video_dir() -> Path:
    """``<raw data dir>/abr/video_sizes`` (``streamlab data fetch`` puts it there); a clear error when it is not."""
    directory = project.raw_data_dir() / "abr" / "video_sizes"
    if not directory.is_dir():
        raise VideoSizesMissingError(
            f"no chunk-size tables at {directory} (the default): pass --video-sizes DIR with video_size_0..5, "
            "or fetch the data with `streamlab data fetch`"
        )
    return directory


def load_video(directory: Path, levels: int = len(BITRATES_KBPS), total_chunks: int = TOTAL_CHUNKS) -> Video:
    """Read ``video_size_0..levels-1`` from ``directory``; errors name the file and line."""
    directory = Path(directory)
    if not directory.is_dir():
        raise VideoSizeError(f"{directory}: chunk-size directory not found (expected video_size_0..{levels - 1})")
    columns: list[list[int]] = []
    for level in range(levels):
        path = directory / f"video_size_{level}"
        if not path.is_file():
            raise VideoSizeError(f"{path}: chunk-size file missing; need video_size_0..{levels - 1} in {directory}")
        sizes: list[int] = []
        for line_no, raw in enumerate(path.read_text().splitlines(), start=1):
            fields = raw.split()
            if not fields:
                continue
            try:
                value = int(fields[0])
            except ValueError:
                raise VideoSizeError(
                    f"{path}:{line_no}: chunk size {fields[0]!r} is not an integer byte count"
                ) from None
            if value <= 0:
                raise VideoSizeError(f"{path}:{line_no}: chunk size {value} must be a positive byte count")
            sizes.append(value)
        if len(sizes) < total_chunks:
            raise VideoSizeError(f"{path}: {len(sizes)} chunk sizes; need at least {total_chunks}")
        columns.append(sizes)
    width = min(len(c) for c in columns)
    return Video(np.asarray([c[:width] for c in columns], dtype=float), total_chunks=total_chunks)
