"""Checks and facts about a title's source before any trial encode: what the optimizer may assume.

Refused with a clear error (each a :class:`UnsuitableSource`), because a per-title decision on
such a source would be wrong rather than merely slow:

- shorter than one segment: there is no full GOP to measure, and the stack could not package it;
- variable frame rate: VMAF's frame alignment and the fixed GOP length both assume constant rate
  (re-encode it at a constant rate first, e.g. ``-vf fps=30``);
- interlaced: scaling fields as frames measures combing, not compression (deinterlace first);
- no video stream, unreadable, corrupt: nothing to encode.

Odd dimensions are *handled*: every rung is even-sized (4:2:0), the source's own size is floored
to even, and VMAF upscales to the source's exact size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamlab.core.errors import UsageError
from streamlab.models.ladder.settings import LadderOptimizerSettings
from streamlab.streaming.quality.video_info import VideoUnreadable, read_video_info
from streamlab.streaming.transcode.encode import gop_frames


class UnsuitableSource(UsageError):
    """The source cannot get a per-title ladder; the message says why and what to do (a bad input: exit 2)."""


@dataclass(frozen=True)
class SourceFacts:
    path: Path
    width: int  # display size: an anamorphic source's rungs are square-pixel, as the stack encodes them
    height: int
    fps: float
    fps_out: float | None
    frames: int
    duration_s: float
    segment_duration_s: float
    gop_frames: int
    bitrate_kbps: float


def inspect_source(path: Path, segment_duration_s: float, max_fps: float = 60.0) -> SourceFacts:
    path = Path(path)
    try:
        info = read_video_info(path, check_interlace=True)
    except VideoUnreadable as exc:
        raise UnsuitableSource(str(exc)) from None
    if info.variable_frame_rate:
        raise UnsuitableSource(
            f"source {path} has a variable frame rate; per-title ladders need constant frame rate "
            "(re-encode it first, e.g. ffmpeg -i IN -vf fps=30 OUT)"
        )
    if info.interlaced:
        raise UnsuitableSource(f"source {path} is interlaced; deinterlace it first (e.g. ffmpeg -vf bwdif)")
    if info.duration_s + 1e-6 < segment_duration_s:
        raise UnsuitableSource(
            f"source {path} lasts {info.duration_s:.2f} s, shorter than one {segment_duration_s:g} s segment; "
            "a ladder needs at least one full segment (or lower segment_duration_s)"
        )
    if info.fps <= 0:
        raise UnsuitableSource(f"source {path} reports no frame rate")
    width, height = info.display_size
    fps_out = max_fps if info.fps > max_fps + 1e-6 else None
    return SourceFacts(
        path=path.resolve(),
        width=width,
        height=height,
        fps=info.fps,
        fps_out=fps_out,
        frames=info.frames,
        duration_s=info.duration_s,
        segment_duration_s=segment_duration_s,
        gop_frames=gop_frames(fps_out or info.fps, segment_duration_s),
        bitrate_kbps=info.bitrate_kbps,
    )


def segment_s(settings: LadderOptimizerSettings) -> float:
    """The segment (= closed GOP) duration: the ladder config's if set, else the VOD stack's, so rungs align with it."""
    if settings.segment_duration_s is not None:
        return settings.segment_duration_s
    from streamlab.streaming.ingest.settings import load_streaming_settings

    return load_streaming_settings().transcode.segment_duration_s


def source_facts(source: Path, settings: LadderOptimizerSettings) -> SourceFacts:
    """:func:`inspect_source` with the ladder's segment length and the stack's frame-rate cap."""
    from streamlab.streaming.ingest.settings import load_streaming_settings

    return inspect_source(source, segment_s(settings), load_streaming_settings().transcode.max_fps)
