"""Package a title's encoded CMAF tracks: media playlists, HLS masters and the DASH MPD.

Files written into the (staging) title folder::

    master.m3u8          H.264 variants + the AAC group: what every device plays
    master_hevc.m3u8     HEVC variants (+ the same audio), only when the ladder has HEVC rungs
    master_av1.m3u8      AV1 variants (+ the same audio), only when the ladder has AV1 rungs (per-title)
    manifest.mpd         every video rendition (one AdaptationSet per codec) + audio
    <rendition>/playlist.m3u8, audio/playlist.m3u8
    <rendition>/iframe.m3u8   trick-play I-frame playlist (HLS)
    trick/               keyframes of the lowest H.264 rendition: the DASH trick-mode AdaptationSet
    thumbnails/          seek thumbnails: tile_*.jpg sprite sheets, thumbnails.vtt, thumbnails.json

Shaka Packager writes them all from one set of segments (rewriting the encoder's segments losslessly,
same names and cuts); the records are then read back from the files on disk (``segments.read_track``),
so the catalog states what was written, not what was asked for.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from streamlab.streaming.catalog import AudioTrack, Rendition
from streamlab.streaming.packaging.segments import PackagingError, Track, read_track
from streamlab.streaming.packaging.settings import PackagingSettings, ThumbnailSettings, load_packaging_settings
from streamlab.streaming.packaging.shaka import (
    CODEC_MASTERS,
    SUBTITLE_FILE,
    TRICK_DIR,
    TrackInput,
    repackage,
    write_track_list,
)
from streamlab.streaming.packaging.subtitles import Subtitle, SubtitleError, to_webvtt
from streamlab.streaming.transcode.audio_tracks import AudioStream
from streamlab.streaming.transcode.encode import AUDIO_DIR, INIT_SEGMENT
from streamlab.streaming.transcode.thumbnails import THUMBNAILS_DIR, ThumbnailError, write_thumbnails
from streamlab.streaming.transcode.ladder import Rung

MASTERS = CODEC_MASTERS
HLS_MASTER_HEVC = MASTERS["hevc"]
HLS_MASTER_AV1 = MASTERS["av1"]


@dataclass(frozen=True)
class PackagedTitle:
    renditions: list[Rendition]
    audio: AudioTrack | None
    duration_s: float


def package_title(
    title_dir: Path,
    rungs: list[Rung],
    fps: float,
    *,
    audio_bitrate_kbps: int | None,
    expected_duration_s: float | None = None,
    settings: PackagingSettings | None = None,
    audio_streams: list[AudioStream] | None = None,
    subtitles: list[Subtitle] | None = None,
) -> PackagedTitle:
    """Describe the encoded tracks under ``title_dir``; ``audio_bitrate_kbps`` None means no audio track.

    ``expected_duration_s`` (the probed video duration) guards against video encodes that stopped
    early: FFmpeg's segment muxer can fail to open a segment file and still exit 0. ``settings`` None
    loads ``packaging:`` from configs/streaming.yaml. ``fps`` is not needed any more (Shaka reads the
    frame rate from the streams) and stays only for the ingest pipeline's call.

    ``audio_streams`` (several languages, ``streaming.transcode.audio_tracks``, already encoded into
    their folders) replace the single ``audio/`` track; the first is the default and the record's
    audio. ``subtitles`` are sidecar WebVTT/SRT files, checked before anything is packaged.
    """
    settings = settings or load_packaging_settings()
    encoded = {rung.id: read_track(title_dir, rung.id) for rung in rungs}
    for rung in rungs:  # the encoder's output is checked before anything rewrites it
        _check_dimensions(encoded[rung.id], rung)
        _check_complete(encoded[rung.id], expected_duration_s)
    if not any(rung.codec == "h264" for rung in rungs):
        raise PackagingError(f"{title_dir}: no H.264 rendition, so nothing every device plays")
    texts = [to_webvtt(sub.path) for sub in subtitles or []]  # every file checked before anything is written
    languages = [sub.folder for sub in subtitles or []]
    if len(set(languages)) != len(languages):
        raise SubtitleError(f"{title_dir.name}: two subtitle files for one language ({', '.join(sorted(languages))})")
    text_tracks = []
    for sub, text in zip(subtitles or [], texts, strict=True):
        (title_dir / sub.folder).mkdir(exist_ok=True)
        (title_dir / sub.folder / SUBTITLE_FILE).write_text(text)
        text_tracks.append(TrackInput(sub.folder, "text", language=sub.language, name=sub.name))
    audio_tracks = ([TrackInput(a.folder, "audio", language=a.language, name=a.name) for a in audio_streams]
                    if audio_streams else [TrackInput(AUDIO_DIR, "audio")] if audio_bitrate_kbps is not None else [])
    return _package_with_shaka(title_dir, rungs, encoded, audio_tracks, text_tracks, audio_bitrate_kbps, settings)


def _package_with_shaka(title_dir: Path, rungs: list[Rung], encoded: dict[str, Track], audio_tracks: list[TrackInput],
                        text_tracks: list[TrackInput], audio_bitrate_kbps: int | None,
                        settings: PackagingSettings) -> PackagedTitle:
    """Shaka Packager rewrites every track in place (same layout); records come from its output files."""
    first = encoded[rungs[0].id]
    segment_duration_s = round(first.segment_duration_s(first.segments[0]), 3)  # the encoder's GOP-aligned cut
    tracks = [TrackInput(rung.id, "video") for rung in rungs]
    lowest = min((r for r in rungs if r.codec == "h264"), key=lambda r: (r.width * r.height, r.bitrate_kbps))
    trick = [TrackInput(TRICK_DIR, "video", source=lowest.id, trick_play_factor=settings.trick_play_factor)
             ] if settings.trick_play_factor else []
    tracks += audio_tracks + text_tracks + trick
    extras = audio_tracks[1:] + text_tracks + trick  # beyond what the record names: encryption repackages them too
    shutil.rmtree(title_dir / THUMBNAILS_DIR, ignore_errors=True)
    if settings.thumbnails.enabled:  # before the packager: it lists the sheets in the MPD
        _draw_thumbnails(title_dir, encoded[lowest.id], settings.thumbnails)
    repackage(title_dir, tracks, segment_duration_s, iframe_playlists=settings.iframe_playlists,
              segment_bitrates=settings.segment_bitrates, timeout_s=settings.timeout_s)
    write_track_list(title_dir, extras)
    packaged = {rung.id: read_track(title_dir, rung.id) for rung in rungs}
    audio = None
    if audio_tracks and audio_bitrate_kbps:
        audio = _audio_record(read_track(title_dir, audio_tracks[0].folder), audio_bitrate_kbps)
    duration_s = max(track.duration_s for track in packaged.values())
    return PackagedTitle([_rendition(rung, packaged[rung.id]) for rung in rungs], audio, round(duration_s, 3))


def _draw_thumbnails(title_dir: Path, track: Track, settings: ThumbnailSettings) -> None:
    """Sheets from the lowest H.264 rendition's own segments (small to decode, same pictures)."""
    with tempfile.TemporaryDirectory(dir=title_dir, prefix=".thumbs-") as tmp:
        joined = Path(tmp) / "lowest.mp4"
        with joined.open("wb") as sink:
            for part in [title_dir / track.folder / INIT_SEGMENT,
                         *(title_dir / track.folder / s.file for s in track.segments)]:
                sink.write(part.read_bytes())
        try:
            write_thumbnails(joined, title_dir / THUMBNAILS_DIR, track.duration_s, interval_s=settings.interval_s,
                             width=settings.width, columns=settings.columns, rows=settings.rows)
        except ThumbnailError as exc:
            raise PackagingError(f"{title_dir.name}: {exc}") from None


def _rendition(rung: Rung, track: Track) -> Rendition:
    return Rendition(
        id=rung.id,
        width=rung.width,
        height=rung.height,
        codec=rung.codec,
        codecs=track.init.codecs,
        bitrate_kbps=rung.bitrate_kbps,
        bandwidth_bps=track.peak_bandwidth_bps,
        average_bandwidth_bps=track.average_bandwidth_bps,
        profile=rung.profile,
        browser_playable=rung.browser_playable,
        segment_count=len(track.segments),
    )


def _audio_record(track: Track, bitrate_kbps: int) -> AudioTrack:
    return AudioTrack(
        id=track.folder,
        codecs=track.init.codecs,
        bitrate_kbps=bitrate_kbps,
        sample_rate_hz=track.init.sample_rate_hz or track.timescale,
        channels=track.init.channels or 2,
    )


def _check_complete(track: Track, expected_duration_s: float | None) -> None:
    """A track may end up to one segment short of the source (rounding, encoder delay), never more."""
    if expected_duration_s is None or not track.segments:
        return
    longest_segment_s = max(track.segment_duration_s(s) for s in track.segments)
    if track.duration_s < expected_duration_s - max(longest_segment_s, 0.5):
        raise PackagingError(
            f"{track.folder}: segments cover {track.duration_s:.2f} s of a {expected_duration_s:.2f} s source "
            "(the encode stopped early)"
        )


def _check_dimensions(track: Track, rung: Rung) -> None:
    if (track.init.width, track.init.height) != (rung.width, rung.height):
        raise PackagingError(
            f"{track.folder}: encoded {track.init.width}x{track.init.height}, ladder asked for {rung.width}x{rung.height}"
        )
