"""Package a title's encoded CMAF tracks: media playlists, HLS masters and the DASH MPD.

Files written into the (staging) title folder::

    master.m3u8          H.264 variants + the AAC group: what every device plays
    master_hevc.m3u8     HEVC variants (+ the same audio), only when the ladder has HEVC rungs
    master_av1.m3u8      AV1 variants (+ the same audio), only when the ladder has AV1 rungs (per-title)
    manifest.mpd         every video rendition (one AdaptationSet per codec) + audio
    <rendition>/playlist.m3u8, audio/playlist.m3u8
    <rendition>/iframe.m3u8   trick-play I-frame playlist (Shaka engine)

``packaging.engine`` (configs/streaming.yaml) picks who writes them: Shaka Packager (default; it also
rewrites the segments, losslessly) or the old own writers (``hls.py``/``dash.py``) over the encoder's
segments. Either way the records are read back from the files on disk (``segments.read_track``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamlab.streaming.catalog import DASH_MANIFEST, HLS_MASTER, AudioTrack, Rendition
from streamlab.streaming.packaging.dash import VideoRepresentation, build_mpd
from streamlab.streaming.packaging.hls import master_playlist, write_media_playlist
from streamlab.streaming.packaging.segments import PackagingError, Track, read_track
from streamlab.streaming.packaging.settings import PackagingSettings, load_packaging_settings
from streamlab.streaming.packaging.shaka import TrackInput, repackage
from streamlab.streaming.transcode.encode import AUDIO_DIR
from streamlab.streaming.transcode.ladder import Rung

HLS_MASTER_HEVC = "master_hevc.m3u8"
HLS_MASTER_AV1 = "master_av1.m3u8"
MASTERS = {"h264": HLS_MASTER, "hevc": HLS_MASTER_HEVC, "av1": HLS_MASTER_AV1}


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
) -> PackagedTitle:
    """Describe the encoded tracks under ``title_dir``; ``audio_bitrate_kbps`` None means no audio track.

    ``expected_duration_s`` (the probed video duration) guards against video encodes that stopped
    early: FFmpeg's segment muxer can fail to open a segment file and still exit 0. ``settings`` None
    loads ``packaging:`` from configs/streaming.yaml.
    """
    settings = settings or load_packaging_settings()
    encoded = {rung.id: read_track(title_dir, rung.id) for rung in rungs}
    for rung in rungs:  # the encoder's output is checked before anything rewrites it
        _check_dimensions(encoded[rung.id], rung)
        _check_complete(encoded[rung.id], expected_duration_s)
    if not any(rung.codec == "h264" for rung in rungs):
        raise PackagingError(f"{title_dir}: no H.264 rendition, so nothing every device plays")
    if settings.engine == "shaka":
        return _package_with_shaka(title_dir, rungs, encoded, audio_bitrate_kbps, settings)
    videos: list[VideoRepresentation] = []
    for rung in rungs:
        track = encoded[rung.id]
        write_media_playlist(title_dir, track)
        videos.append(VideoRepresentation(_rendition(rung, track), track, fps))

    audio_track: Track | None = None
    audio: AudioTrack | None = None
    if audio_bitrate_kbps is not None:
        audio_track = read_track(title_dir, AUDIO_DIR)  # not length-checked: sources' audio may end early
        write_media_playlist(title_dir, audio_track)
        audio = _audio_record(audio_track, audio_bitrate_kbps)

    by_codec = {codec: [(v.rendition, v.fps) for v in videos if v.rendition.codec == codec] for codec in MASTERS}
    for codec, master in MASTERS.items():  # one multivariant playlist per codec: a player picks what it decodes
        if by_codec[codec]:
            (title_dir / master).write_text(master_playlist(_by_bandwidth(by_codec[codec]), audio_track))
    (title_dir / DASH_MANIFEST).write_text(build_mpd(videos, audio_track))
    duration_s = max(v.track.duration_s for v in videos)
    return PackagedTitle([v.rendition for v in videos], audio, round(duration_s, 3))


def _package_with_shaka(title_dir: Path, rungs: list[Rung], encoded: dict[str, Track],
                        audio_bitrate_kbps: int | None, settings: PackagingSettings) -> PackagedTitle:
    """Shaka Packager rewrites every track in place (same layout); records come from its output files.

    The frame rate is not passed: Shaka reads it from the streams themselves.
    """
    first = encoded[rungs[0].id]
    segment_duration_s = round(first.segment_duration_s(first.segments[0]), 3)  # the encoder's GOP-aligned cut
    tracks = [TrackInput(rung.id, "video") for rung in rungs]
    if audio_bitrate_kbps is not None:
        tracks.append(TrackInput(AUDIO_DIR, "audio"))
    repackage(title_dir, tracks, segment_duration_s, iframe_playlists=settings.iframe_playlists,
              segment_bitrates=settings.segment_bitrates, timeout_s=settings.timeout_s)
    packaged = {rung.id: read_track(title_dir, rung.id) for rung in rungs}
    audio = _audio_record(read_track(title_dir, AUDIO_DIR), audio_bitrate_kbps) if audio_bitrate_kbps else None
    duration_s = max(track.duration_s for track in packaged.values())
    return PackagedTitle([_rendition(rung, packaged[rung.id]) for rung in rungs], audio, round(duration_s, 3))


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
        id=AUDIO_DIR,
        codecs=track.init.codecs,
        bitrate_kbps=bitrate_kbps,
        sample_rate_hz=track.init.sample_rate_hz or track.timescale,
        channels=track.init.channels or 2,
    )


def _by_bandwidth(variants: list[tuple[Rendition, float]]) -> list[tuple[Rendition, float]]:
    return sorted(variants, key=lambda v: v[0].bandwidth_bps)


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
