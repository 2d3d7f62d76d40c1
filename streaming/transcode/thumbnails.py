"""Seek thumbnails: JPEG sprite sheets of a title, a WebVTT thumbnail track and their geometry.

One frame every ``interval_s`` seconds, scaled to ``width`` pixels wide, tiled ``columns`` x ``rows``
per sheet (``tile_00001.jpg`` ...): a player fetches one small image per 25 thumbnails instead of
one request per seek position. Two players' conventions are served from the same sheets:

- ``thumbnails.vtt``: WebVTT cues whose text is ``tile_00001.jpg#xywh=x,y,w,h`` (the media-fragment
  convention of JW Player, Video.js and Shaka Player's ``addThumbnailsTrack``);
- ``thumbnails.json``: the geometry, from which packaging writes the DASH-IF image AdaptationSet
  (``contentType="image"``, ``http://dashif.org/thumbnail_tile``) that Shaka Player reads natively
  (``getImageTracks`` / ``getThumbnails``).

Sheets are drawn from an already encoded rendition (the packager's input), so no second decode
of a large source is needed.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from streamlab.core.errors import StreamlabError
from streamlab.streaming.ffmpeg import FFmpegError, run_ffmpeg

THUMBNAILS_DIR = "thumbnails"
THUMBNAILS_VTT = "thumbnails.vtt"
THUMBNAILS_JSON = "thumbnails.json"
TILE_PATTERN = "tile_%05d.jpg"
TILE_GLOB = "tile_*.jpg"


class ThumbnailError(StreamlabError):
    pass


@dataclass(frozen=True)
class ThumbnailGrid:
    """What a player needs to find thumbnail ``n``: sheet ``n // per_sheet``, cell ``n % per_sheet``."""

    interval_s: float
    columns: int
    rows: int
    width: int  # one thumbnail, pixels
    height: int
    count: int  # thumbnails in all (the last sheet may be partly empty)
    sheets: int

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    @property
    def sheet_duration_s(self) -> float:
        return self.per_sheet * self.interval_s


def write_thumbnails(video: Path, out_dir: Path, duration_s: float, *, interval_s: float = 2.0, width: int = 160,
                     columns: int = 5, rows: int = 5, timeout_s: float = 300.0) -> ThumbnailGrid:
    """Draw the sheets of ``video`` into ``out_dir`` and write the VTT track and the geometry beside them."""
    if interval_s <= 0 or width < 16 or columns < 1 or rows < 1:
        raise ThumbnailError(f"thumbnail settings out of range: interval {interval_s} s, width {width}, "
                             f"{columns}x{rows} tiles")
    if duration_s <= 0:
        raise ThumbnailError(f"{video.name}: no duration to draw thumbnails from")
    out_dir.mkdir(parents=True, exist_ok=True)
    count = max(1, math.ceil(duration_s / interval_s - 1e-6))
    # fps=1/interval picks the frame nearest each instant; scale keeps the aspect with even height.
    graph = f"fps=1/{interval_s:g}:round=down,scale={width}:-2,tile={columns}x{rows}"
    try:
        run_ffmpeg(["-i", video, "-an", "-sn", "-dn", "-vf", graph, "-frames:v", str(math.ceil(count / (columns * rows))),
                    "-q:v", "5", "-start_number", "1", out_dir / TILE_PATTERN],
                   f"drawing thumbnails of {video.name}", timeout_s=timeout_s)
    except FFmpegError as exc:
        raise ThumbnailError(str(exc)) from None
    sheets = sorted(out_dir.glob(TILE_GLOB))
    if not sheets:
        raise ThumbnailError(f"{video.name}: FFmpeg drew no thumbnail sheet")
    sheet_w, sheet_h = _jpeg_size(sheets[0])
    grid = ThumbnailGrid(interval_s, columns, rows, sheet_w // columns, sheet_h // rows,
                         min(count, len(sheets) * columns * rows), len(sheets))
    (out_dir / THUMBNAILS_VTT).write_text(thumbnail_vtt(grid, duration_s))
    (out_dir / THUMBNAILS_JSON).write_text(json.dumps(asdict(grid), indent=2) + "\n")
    return grid


def read_grid(out_dir: Path) -> ThumbnailGrid | None:
    """The geometry written by :func:`write_thumbnails`, or ``None`` when the title has no thumbnails."""
    path = out_dir / THUMBNAILS_JSON
    if not path.is_file():
        return None
    try:
        return ThumbnailGrid(**json.loads(path.read_text()))
    except (TypeError, ValueError) as exc:
        raise ThumbnailError(f"{path}: unreadable thumbnail geometry ({exc})") from None


def thumbnail_vtt(grid: ThumbnailGrid, duration_s: float) -> str:
    """A WebVTT track: one cue per thumbnail, its text the sheet URI with the cell as ``#xywh``."""
    lines = ["WEBVTT", ""]
    for n in range(grid.count):
        start, end = n * grid.interval_s, min((n + 1) * grid.interval_s, duration_s)
        sheet, cell = divmod(n, grid.per_sheet)
        row, column = divmod(cell, grid.columns)
        lines += [f"{vtt_timestamp(start)} --> {vtt_timestamp(max(end, start + 0.001))}",
                  f"{TILE_PATTERN % (sheet + 1)}#xywh={column * grid.width},{row * grid.height},{grid.width},{grid.height}",
                  ""]
    return "\n".join(lines)


def vtt_timestamp(seconds: float) -> str:
    """``hh:mm:ss.ttt``, the WebVTT cue timestamp (subtitles use it too)."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def _jpeg_size(path: Path) -> tuple[int, int]:
    """Width and height from the JPEG's SOF marker (no image library needed for one header)."""
    data = path.read_bytes()
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            break
        marker = data[index + 1]
        length = int.from_bytes(data[index + 2:index + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(data[index + 7:index + 9], "big"), int.from_bytes(data[index + 5:index + 7], "big")
        index += 2 + length
    raise ThumbnailError(f"{path}: not a JPEG FFmpeg could have written (no frame header)")
