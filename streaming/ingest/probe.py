"""Probe a source with PyAV: container, codecs, size, frame rate, duration, audio.

There is no ffprobe on the machines we target, and PyAV reads the same demuxers FFmpeg does.
Probing also *demuxes every packet* (no decoding, so it is cheap) and decodes the first frame:
a file cut short after its header (``moov`` first, data missing) opens fine and only this pass
notices the missing frames, before any transcode time is spent on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from streamlab.streaming.catalog import SourceInfo
from streamlab.streaming.ingest.errors import CorruptSource, EmptySource, NotAVideo, NoVideoStream
from streamlab.streaming.ingest.settings import IngestSettings
from streamlab.streaming.ingest.validate import check_dimensions

# Leading bytes of containers FFmpeg reads: a file that starts like one but will not open is
# corrupt (e.g. an MP4 cut before its moov box), not "some other kind of file".
_CONTAINER_MAGIC: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # ISO BMFF: mp4, mov, m4v, 3gp
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"free"),
    (0, b"\x1a\x45\xdf\xa3"),  # EBML: mkv, webm
    (0, b"RIFF"),  # avi
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"),  # MPEG-PS
)


@dataclass(frozen=True)
class ProbeResult:
    """What ingest needs to know about a source: the catalog's SourceInfo plus encoding details."""

    info: SourceInfo
    display_width: int  # after the pixel aspect ratio and any rotation FFmpeg applies when decoding
    display_height: int
    video_frames: int
    video_stream_index: int  # absolute stream index: cover art can sit before the real video
    audio_stream_index: int | None = None
    audio_channels: int | None = None
    audio_sample_rate_hz: int | None = None
    rotation_deg: int = 0
    audio_stream_count: int = 0  # more than one: one published track per language (streaming.transcode.audio_tracks)


def probe_source(path: Path, limits: IngestSettings | None = None) -> ProbeResult:
    """Describe the source or raise one :class:`~streamlab.streaming.ingest.errors.IngestError` saying what is wrong.

    With ``limits``, the declared frame size is refused *before* anything is decoded. Opening a
    container runs FFmpeg's stream-info pass, which decodes a first frame: a 3.4 KB H.264 file whose
    SPS declares 16000x16000 cost 8.6 s and 2.3 GB that way. FFmpeg's decoder option ``max_pixels``
    (checked before a picture buffer is allocated) makes that pass fail fast, while the size the
    parser read from the stream header (SPS) is still reported and checked here. (PyAV passes codec
    options only to streams the demuxer knows before that pass: not MPEG-PS, whose streams appear
    during it; those still pay one first-frame decode.)
    """
    import av

    options = {"max_pixels": str(limits.max_width * limits.max_height)} if limits is not None else {}
    try:
        container = av.open(str(path), options=options)
    except (av.error.FFmpegError, IndexError, UnicodeDecodeError) as exc:
        detail = _reason(exc)
        if _looks_like_container(path):
            raise CorruptSource(path, f"FFmpeg cannot open it ({detail})") from None
        raise NotAVideo(path, detail) from None
    with container:
        streams = list(container.streams)
        if not streams:
            raise EmptySource(path)
        videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not videos:
            kinds = ", ".join(f"{s.type} ({s.codec_context.name})" for s in streams)
            raise NoVideoStream(path, kinds)
        video = videos[0]
        width, height = video.codec_context.width, video.codec_context.height
        if limits is not None:
            check_dimensions(path, width, height, limits)
        audio = container.streams.audio[0] if container.streams.audio else None
        frames, duration_s = _demux_video(path, container, video)
        rotation_deg = _decode_first_frame(path, video.index, options)

        sar = video.sample_aspect_ratio or Fraction(1, 1)
        display_width = max(1, round(width * float(sar))) if sar > 0 else width
        display_height = height
        if rotation_deg % 180 == 90:  # FFmpeg auto-rotates on decode: a phone's portrait clip stays portrait
            display_width, display_height = display_height, display_width
        rate = video.average_rate or video.guessed_rate or video.base_rate
        info = SourceInfo(
            container=container.format.name,
            video_codec=video.codec_context.name,
            width=width,
            height=height,
            fps=round(float(rate), 3) if rate else 0.0,
            duration_s=round(duration_s, 3),
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            bitrate_kbps=round(container.bit_rate / 1000, 1) if container.bit_rate else None,
        )
        return ProbeResult(
            info=info,
            display_width=display_width,
            display_height=display_height,
            video_frames=frames,
            video_stream_index=video.index,
            audio_stream_index=audio.index if audio is not None else None,
            rotation_deg=rotation_deg,
            audio_channels=audio.codec_context.channels if audio is not None else None,
            audio_sample_rate_hz=audio.codec_context.sample_rate if audio is not None else None,
            audio_stream_count=len(container.streams.audio),
        )


def _demux_video(path: Path, container, video) -> tuple[int, float]:  # noqa: ANN001 (PyAV types)
    """Count the video packets and measure their time span; a short count means a truncated file."""
    import av

    frames = 0
    first_pts: int | None = None
    end_pts: int | None = None
    try:
        for packet in container.demux(video):
            if packet.size == 0:  # the demuxer's end-of-stream flush packet
                continue
            frames += 1
            pts = packet.pts if packet.pts is not None else packet.dts
            if pts is None:
                continue
            first_pts = pts if first_pts is None else min(first_pts, pts)
            end = pts + (packet.duration or 0)
            end_pts = end if end_pts is None else max(end_pts, end)
    except av.error.FFmpegError as exc:
        raise CorruptSource(path, f"reading packet {frames + 1} failed ({_reason(exc)})") from None
    if frames == 0:
        raise EmptySource(path)
    if video.frames and frames < video.frames:
        raise CorruptSource(path, f"its header lists {video.frames} video frames but only {frames} are present")
    if first_pts is not None and end_pts is not None and video.time_base:
        duration_s = float((end_pts - first_pts) * video.time_base)
    else:
        duration_s = float(container.duration or 0) / 1_000_000
    return frames, duration_s


def _decode_first_frame(path: Path, stream_index: int, options: dict[str, str]) -> int:
    """Decode one frame in a fresh demuxer (valid packets can still carry undecodable data).

    Returns the frame's display rotation in degrees (0, 90, 180, 270), from the display matrix.
    """
    import av

    try:
        with av.open(str(path), options=options) as fresh:
            for frame in fresh.decode(fresh.streams[stream_index]):
                if isinstance(frame, av.VideoFrame):
                    return round(frame.rotation or 0) % 360
    except av.error.FFmpegError as exc:
        raise CorruptSource(path, f"its first video frame does not decode ({_reason(exc)})") from None
    raise CorruptSource(path, "no video frame decodes")


def _looks_like_container(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _CONTAINER_MAGIC)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).strip().rstrip(".")
