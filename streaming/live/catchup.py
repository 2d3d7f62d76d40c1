"""Catch-up: a stopped channel's DVR archive published as a VOD title that plays like any other.

The archive is what the channel left on disk: per rung, the init segments and the complete
segments still in the DVR window, described by the rung's last LL-HLS playlist (which the
packager rewrote on every part: segment order, durations, discontinuities, init per generation).
Publishing builds, in a staging folder (:func:`streamlab.streaming.publish.staging_dir`), a
title in the catalog's flat layout (``<title>/<rung>/…``): a VOD media playlist per rung
(``EXT-X-PLAYLIST-TYPE:VOD``, ``EXT-X-ENDLIST``, the discontinuities kept, no parts), a
multivariant playlist and ``title.json``; then one rename makes it visible. Segments are hard
links to the archive's files (no copy; the archive folder is cleared by the channel's next
start, the title keeps its links). The segment being written when the channel stopped (no
``seg<N>.m4s`` on disk) is left out. HLS only: the catch-up title has no MPD (``dash: null``).

The audio rendition comes along as the title's ``EXT-X-MEDIA`` audio group (every variant names
it), cut by program date-time to the span the video segments cover (the two timelines slide
their windows independently, a segment apart at most).
"""

from __future__ import annotations

import math
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import m3u8  # type: ignore[import-untyped]  # no stubs published

from streamlab.core import project
from streamlab.core.errors import StreamlabError
from streamlab.streaming.catalog import HLS_MASTER, TITLE_RECORD, Rendition, SourceInfo, TitleRecord, validate_title_id
from streamlab.streaming.ingest.errors import TitleExists
from streamlab.streaming.live.playlist import AUDIO_GROUP, AUDIO_NAME, DEFAULT_AUDIO_CODECS
from streamlab.streaming.live.settings import channel_media_dir, validate_channel_name
from streamlab.streaming.packaging.mp4box import parse_init
from streamlab.streaming.live.state import ChannelPaths
from streamlab.streaming.publish import publish, staging_dir


class CatchupError(StreamlabError):
    """The channel's archive cannot be published (running, never started, or empty)."""


def _vod_playlist(segments: list[m3u8.Segment], target_s: int) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target_s}", "#EXT-X-PLAYLIST-TYPE:VOD",
             "#EXT-X-INDEPENDENT-SEGMENTS"]
    current_map = None
    for segment in segments:
        if segment.discontinuity and current_map is not None:
            lines.append("#EXT-X-DISCONTINUITY")
        if segment.init_section is not None and segment.init_section.uri != current_map:
            current_map = segment.init_section.uri
            lines.append(f'#EXT-X-MAP:URI="{current_map}"')
        lines += [f"#EXTINF:{segment.duration:.5f},", segment.uri]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem: copy instead
        shutil.copyfile(source, target)


def _stage_audio(folder: Path, staged: Path, video_span: tuple[float, float] | None) -> str | None:
    """Stage the audio archive's complete segments within the video's span; its codecs, or None without any."""
    try:
        playlist = m3u8.loads((folder / "playlist.m3u8").read_text())
    except FileNotFoundError:
        return None
    segments = [s for s in playlist.segments if s.uri and (folder / s.uri).is_file()]
    if video_span is not None:
        start, end = video_span
        segments = [s for s in segments if s.program_date_time is None
                    or (s.program_date_time.timestamp() + s.duration > start and s.program_date_time.timestamp() < end)]
    if not segments:
        return None
    staged.mkdir()
    for init in {s.init_section.uri for s in segments if s.init_section is not None}:
        _link(folder / init, staged / init)
    for segment in segments:
        _link(folder / segment.uri, staged / segment.uri)
    target_s = max(1, math.ceil(max(s.duration for s in segments)))
    (staged / "playlist.m3u8").write_text(_vod_playlist(segments, target_s))
    init = next((s.init_section.uri for s in segments if s.init_section is not None), None)
    return parse_init((staged / init).read_bytes(), "the catch-up audio").codecs if init else DEFAULT_AUDIO_CODECS


def publish_catchup(channel: str, title_id: str | None = None, name: str | None = None) -> TitleRecord:
    """Publish ``channel``'s archive as the VOD title ``title_id`` (default ``<channel>-<UTC time>``)."""
    validate_channel_name(channel)
    paths = ChannelPaths.for_channel(channel)
    state = paths.read_state()
    if state is None:
        raise CatchupError(f"unknown channel {channel!r}: it was never started here")
    if paths.process("channel") is not None:
        raise CatchupError(f"channel {channel!r} is running: `streamlab live stop {channel}` first (its archive still slides)")
    now = datetime.now(UTC)
    title_id = validate_title_id(title_id or f"{channel}-{now:%Y%m%dt%H%M%S}")
    media_root = project.media_root()
    archive = channel_media_dir(media_root, channel)
    renditions: list[Rendition] = []
    durations: list[float] = []
    fps = 30.0
    target_s = 2
    variants: list[tuple[str, str, str]] = []  # (BANDWIDTH..., CODECS of the video, RESOLUTION), playlist per rung
    video_span: tuple[float, float] | None = None
    with staging_dir(media_root, title_id) as staged:
        for rung in state.get("rungs", []):
            folder = archive / rung["name"]
            try:
                playlist = m3u8.loads((folder / "playlist.m3u8").read_text())
            except FileNotFoundError:
                continue
            segments = [s for s in playlist.segments if s.uri and (folder / s.uri).is_file()]
            if not segments:
                continue
            (staged / rung["name"]).mkdir()
            for init in {s.init_section.uri for s in segments if s.init_section is not None}:
                _link(folder / init, staged / rung["name"] / init)
            sizes = []
            for segment in segments:
                _link(folder / segment.uri, staged / rung["name"] / segment.uri)
                sizes.append((folder / segment.uri).stat().st_size * 8 / max(segment.duration, 0.001))
            target_s = max(1, math.ceil(max(s.duration for s in segments)))
            (staged / rung["name"] / "playlist.m3u8").write_text(_vod_playlist(segments, target_s))
            if video_span is None and segments[0].program_date_time is not None:
                last = segments[-1]
                video_span = (segments[0].program_date_time.timestamp(), last.program_date_time.timestamp() + last.duration)
            duration_s = sum(s.duration for s in segments)
            durations.append(duration_s)
            codecs = rung.get("codecs") or "avc1.64001f"
            peak, average = int(max(sizes)), int(sum(sizes) / len(sizes))
            renditions.append(Rendition(
                id=rung["name"], width=rung["width"], height=rung["height"], codec="h264", codecs=codecs,
                bitrate_kbps=rung["bitrate_kbps"], bandwidth_bps=peak, average_bandwidth_bps=average, profile="live",
                browser_playable=True, segment_count=len(segments),
            ))
            variants.append((f'BANDWIDTH={peak},AVERAGE-BANDWIDTH={average}', codecs, f'RESOLUTION={rung["width"]}x{rung["height"]}'))
        if not renditions:
            raise CatchupError(f"channel {channel!r} left no complete segment under {archive}: nothing to publish")
        audio_codecs = _stage_audio(archive / AUDIO_NAME, staged / AUDIO_NAME, video_span) if state.get("audio") else None
        master = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
        if audio_codecs:
            master.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="main",LANGUAGE="und",DEFAULT=YES,'
                          f'AUTOSELECT=YES,CHANNELS="2",URI="{AUDIO_NAME}/playlist.m3u8"')
        for (bandwidth, codecs, resolution), rendition in zip(variants, renditions, strict=True):
            if audio_codecs:
                master.append(f'#EXT-X-STREAM-INF:{bandwidth},CODECS="{codecs},{audio_codecs}",{resolution},AUDIO="{AUDIO_GROUP}"')
            else:
                master.append(f'#EXT-X-STREAM-INF:{bandwidth},CODECS="{codecs}",{resolution}')
            master.append(f"{rendition.id}/playlist.m3u8")
        (staged / HLS_MASTER).write_text("\n".join(master) + "\n")
        top = renditions[0]
        record = TitleRecord(
            title_id=title_id, name=name or f"{channel} (catch-up {now:%Y-%m-%d %H:%M} UTC)", created_at=now,
            source=SourceInfo(container="mpegts/srt", video_codec="h264", width=top.width, height=top.height, fps=fps,
                              duration_s=round(max(durations), 3), has_audio=bool(audio_codecs)),
            segment_duration_s=float(target_s), duration_s=round(max(durations), 3),
            renditions=renditions, dash=None, ladder="live",
        )
        (staged / TITLE_RECORD).write_text(record.model_dump_json(indent=1))
        try:
            publish(staged, media_root, title_id, replace=False)
        except TitleExists:
            raise CatchupError(f"title {title_id!r} is already published; choose another with --title") from None
    return record
