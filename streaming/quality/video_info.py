"""What quality measurement needs to know about a video: size, frame rate, frame count, bitstream bytes.

Read with PyAV (there is no ffprobe). The bitrate of a rendition is measured from its *video
packets* (bytes / duration), not the file size, so container overhead (CMAF ``moof`` boxes, an
MP4 index) does not tilt a comparison between renditions muxed differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from streamlab.core.errors import StreamlabError


class VideoUnreadable(StreamlabError):
    """The file is missing, not a video FFmpeg can read, or holds no video frames."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    video_bytes: int
    interlaced: bool
    variable_frame_rate: bool
    display_width: int = 0

    @property
    def display_size(self) -> tuple[int, int]:
        """Width corrected by the sample aspect ratio (anamorphic sources), height as coded."""
        return (self.display_width or self.width), self.height

    @property
    def bitrate_kbps(self) -> float:
        return self.video_bytes * 8 / 1000 / self.duration_s if self.duration_s > 0 else 0.0


def read_video_info(path: Path, *, check_interlace: bool = False) -> VideoInfo:
    """Demux every video packet (cheap: no decoding) to count frames, bytes and timing.

    Variable frame rate is detected from packet durations (a spread of more than 10% between
    the shortest and longest frame interval); interlacing from the first decoded frame's flag
    when ``check_interlace`` is set (it costs one decode).
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoUnreadable(f"video {path} does not exist (or is not a regular file)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, IndexError, UnicodeDecodeError) as exc:
        raise VideoUnreadable(f"video {path} cannot be read by FFmpeg ({_reason(exc)})") from None
    with container:
        if not container.streams.video:
            kinds = ", ".join(s.type for s in container.streams) or "no streams"
            raise VideoUnreadable(f"video {path} has no video stream (found: {kinds})")
        stream = container.streams.video[0]
        frames = 0
        video_bytes = 0
        pts_values: list[int] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                frames += 1
                video_bytes += packet.size
                if packet.pts is not None:
                    pts_values.append(packet.pts)
        except av.error.FFmpegError as exc:
            raise VideoUnreadable(
                f"video {path} is corrupt: reading packet {frames + 1} failed ({_reason(exc)})"
            ) from None
        if frames == 0:
            raise VideoUnreadable(f"video {path} contains no video frames")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        time_base = stream.time_base or Fraction(1, 1)
        duration_s, vfr = _timing(sorted(pts_values), time_base, fps, frames)
        interlaced = _first_frame_interlaced(path) if check_interlace else False
        sar = stream.sample_aspect_ratio
        width = stream.codec_context.width
        display_width = round(width * float(sar)) if sar and sar > 0 else width
        return VideoInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=fps,
            frames=frames,
            duration_s=duration_s,
            video_bytes=video_bytes,
            interlaced=interlaced,
            variable_frame_rate=vfr,
            display_width=display_width,
        )


def _timing(pts: list[int], time_base: Fraction, fps: float, frames: int) -> tuple[float, bool]:
    if len(pts) < 2:
        return (frames / fps if fps else 0.0), False
    intervals = [b - a for a, b in zip(pts, pts[1:], strict=False) if b > a]
    if not intervals:
        return (frames / fps if fps else 0.0), False
    typical = sorted(intervals)[len(intervals) // 2]
    duration_s = float((pts[-1] - pts[0] + typical) * time_base)
    vfr = max(intervals) > 1.1 * min(intervals)
    return duration_s, vfr


def _first_frame_interlaced(path: Path) -> bool:
    import av

    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return bool(frame.interlaced_frame)
    except av.error.FFmpegError as exc:
        raise VideoUnreadable(f"video {path}: its first frame does not decode ({_reason(exc)})") from None
    raise VideoUnreadable(f"video {path}: no video frame decodes")


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).strip().rstrip(".")
