"""A published title's HLS and DASH describe the same aligned CMAF segments, read from the real files."""

from __future__ import annotations

import io
import re
from pathlib import Path

import av
import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from streamlab.streaming.catalog import list_titles, published_dir, read_title
from streamlab.streaming.ingest.pipeline import ingest_title
from streamlab.streaming.packaging.mp4box import read_fragment, read_init
from streamlab.streaming.packaging.package import HLS_MASTER_HEVC

SEGMENT_S = 2.0
AVC = re.compile(r"^avc1\.(42|4d|64)[0-9a-f]{2}[0-9a-f]{2}$")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, clip_480p: Path, source_dir: Path) -> Path:
    """clip_480p (854x480, 6 s, with audio) ingested with 2 s segments: 4 renditions x 3 segments."""
    media_root = tmp_path_factory.mktemp("media")
    overrides = [
        f"ingest.allowed_roots=[{source_dir}]",
        "transcode.x264_preset=ultrafast",
        "transcode.mode=serial",
        f"transcode.segment_duration_s={SEGMENT_S}",
    ]
    record = ingest_title(clip_480p, "clip", name="Test clip", overrides=overrides, media_root=media_root)
    return published_dir(media_root, record)  # <media_root>/clip/<version>: media_root is .parents[1]


def first_frame(init: Path, segment: Path) -> tuple[float, bool]:
    """(presentation time in s, is key frame) of a segment's first frame, decoded by FFmpeg."""
    with av.open(io.BytesIO(init.read_bytes() + segment.read_bytes()), format="mp4") as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size:
                return float(packet.dts * packet.time_base), packet.is_keyframe
    raise AssertionError(f"{segment} holds no video packet")


def test_layout_has_masters_manifest_record_and_cmaf_tracks(published: Path) -> None:
    names = {p.name for p in published.iterdir()}
    assert {"title.json", "master.m3u8", "manifest.mpd", "audio"} <= names
    assert HLS_MASTER_HEVC not in names  # no HEVC rung for a 480p source
    for rendition in read_title(published.parents[1], "clip").renditions:
        folder = published / rendition.id
        assert (folder / "init.mp4").is_file() and (folder / "playlist.m3u8").is_file()
        assert sorted(p.name for p in folder.glob("seg_*.m4s")) == ["seg_00001.m4s", "seg_00002.m4s", "seg_00003.m4s"]


def test_title_record_lists_the_ladder_with_measured_bandwidth(published: Path) -> None:
    record = read_title(published.parents[1], "clip")
    assert record.name == "Test clip" and record.source.has_audio
    assert [r.id for r in record.renditions] == ["480p_1500k", "480p_1000k", "360p_800k", "360p_500k"]
    assert record.duration_s == pytest.approx(6.0, abs=0.05)
    for rendition in record.renditions:
        assert rendition.bandwidth_bps >= rendition.average_bandwidth_bps > 0
        assert AVC.match(rendition.codecs) and rendition.browser_playable
    # the lavfi sine is mono: audio.channels=2 is a ceiling (5.1 is downmixed), mono stays mono
    assert record.audio is not None and (record.audio.codecs, record.audio.channels) == ("mp4a.40.2", 1)
    assert [t.title_id for t in list_titles(published.parents[1])] == ["clip"]


def test_codecs_string_matches_the_profile_ffmpeg_decodes(published: Path) -> None:
    names = {"42": "Baseline", "4d": "Main", "64": "High"}
    for rendition in read_title(published.parents[1], "clip").renditions:
        folder = published / rendition.id
        data = (folder / "init.mp4").read_bytes() + (folder / "seg_00001.m4s").read_bytes()
        with av.open(io.BytesIO(data), format="mp4") as container:
            next(container.decode(video=0))
            profile = container.streams.video[0].codec_context.profile or ""
        assert names[rendition.codecs[5:7]] in profile, (rendition.codecs, profile)


def test_master_playlist_has_every_variant_with_audio_group(published: Path) -> None:
    master = m3u8.load(str(published / "master.m3u8"))
    assert master.is_variant
    record = read_title(published.parents[1], "clip")
    by_uri = {p.uri: p.stream_info for p in master.playlists}
    assert set(by_uri) == {f"{r.id}/playlist.m3u8" for r in record.renditions}
    for rendition in record.renditions:
        info = by_uri[f"{rendition.id}/playlist.m3u8"]
        assert info.resolution == (rendition.width, rendition.height)
        assert info.codecs == f"{rendition.codecs},mp4a.40.2"
        assert info.frame_rate == pytest.approx(25.0)
        assert info.bandwidth > rendition.bandwidth_bps  # video peak + audio peak
        assert info.average_bandwidth <= info.bandwidth
        assert info.audio == "audio"
    (audio,) = master.media
    assert (audio.type, audio.group_id, audio.uri) == ("AUDIO", "audio", "audio/playlist.m3u8")


def test_media_playlists_list_every_segment_with_real_durations(published: Path) -> None:
    for folder in ["480p_1500k", "360p_500k", "audio"]:
        playlist = m3u8.load(str(published / folder / "playlist.m3u8"))
        assert playlist.is_endlist and playlist.playlist_type == "vod"
        assert playlist.segment_map[0].uri == "init.mp4"
        files = sorted(p.name for p in (published / folder).glob("seg_*.m4s"))
        assert [s.uri for s in playlist.segments] == files
        assert sum(s.duration for s in playlist.segments) == pytest.approx(6.0, abs=0.1)
        assert all(abs(s.duration - SEGMENT_S) < 0.05 for s in playlist.segments[:-1])
        assert playlist.target_duration >= max(round(s.duration) for s in playlist.segments)


def test_dash_manifest_describes_the_same_files(published: Path) -> None:
    mpd = MPEGDASHParser.parse(str(published / "manifest.mpd"))
    assert mpd.type == "static" and "cmaf" in mpd.profiles
    (period,) = mpd.periods
    # the trick-mode and thumbnail sets beside them: test_titles_get_seek_thumbnails_and_a_trick_mode_set_by_default
    video, audio = [s for s in period.adaptation_sets if [r.id for r in s.representations] not in (["trick"], ["thumbnails"])]
    assert (video.content_type, audio.content_type) == ("video", "audio")
    record = read_title(published.parents[1], "clip")
    by_id = {r.id: r for r in video.representations}
    assert set(by_id) == {r.id for r in record.renditions}
    for rendition in record.renditions:
        rep = by_id[rendition.id]
        assert (rep.width, rep.height, rep.codecs) == (rendition.width, rendition.height, rendition.codecs)
        assert rep.bandwidth == rendition.bandwidth_bps
        (template,) = rep.segment_templates
        count = sum(1 + (s.r or 0) for s in template.segment_timelines[0].Ss)
        assert count == rendition.segment_count == len(list((published / rendition.id).glob("seg_*.m4s")))
        assert template.media.replace("$Number%05d$", "00001") == f"{rendition.id}/seg_00001.m4s"
        assert (published / template.initialization).is_file()
    assert audio.representations[0].codecs == "mp4a.40.2"


def test_titles_get_seek_thumbnails_and_a_trick_mode_set_by_default(published: Path) -> None:
    """On by default (configs/streaming.yaml ``packaging``): Shaka's UI seek bar previews from the image set,
    trick play (fast seek, scrubbing) reads the keyframe-only set; HLS has its I-frame playlists."""
    sets = MPEGDASHParser.parse(str(published / "manifest.mpd")).periods[0].adaptation_sets
    (trick,) = [s for s in sets if [r.id for r in s.representations] == ["trick"]]
    assert [p.value for p in trick.essential_properties if p.scheme_id_uri.endswith("trickmode")]
    (image,) = [s for s in sets if s.content_type == "image"]
    assert image.mime_type == "image/jpeg"
    assert sorted(p.name for p in (published / "thumbnails").glob("tile_*.jpg"))[:1] == ["tile_00001.jpg"]
    assert (published / "thumbnails" / "thumbnails.vtt").read_text().startswith("WEBVTT")
    master = m3u8.load(str(published / "master.m3u8"))
    assert master.iframe_playlists and "trick/" not in (published / "master.m3u8").read_text()


def test_segment_n_starts_at_the_same_time_on_a_keyframe_in_every_rendition(published: Path) -> None:
    record = read_title(published.parents[1], "clip")
    starts: dict[str, list[float]] = {}
    for rendition in record.renditions:
        folder = published / rendition.id
        init = folder / "init.mp4"
        times = []
        for segment in sorted(folder.glob("seg_*.m4s")):
            decoded_s, key = first_frame(init, segment)
            assert key, f"{segment} does not start on a key frame"
            info = read_init(init)
            tfdt_s = read_fragment(segment, info).base_media_decode_time / info.timescale
            assert tfdt_s == pytest.approx(decoded_s, abs=1e-6)
            times.append(tfdt_s)
        starts[rendition.id] = times
    reference = starts[record.renditions[0].id]
    assert reference == pytest.approx([0.0, SEGMENT_S, 2 * SEGMENT_S], abs=0.001)
    for rendition_id, times in starts.items():
        assert times == reference, rendition_id


def test_audio_segments_follow_the_video_segment_grid(published: Path) -> None:
    folder = published / "audio"
    info = read_init(folder / "init.mp4")
    starts = [read_fragment(s, info).base_media_decode_time / info.timescale for s in sorted(folder.glob("seg_*.m4s"))]
    # AAC frames are 1024 samples (21.3 ms at 48 kHz): cuts land within one frame of the video's
    # (the encoder's padding can add a last, very short segment)
    assert starts == pytest.approx([i * SEGMENT_S for i in range(len(starts))], abs=0.025)
    assert len(starts) in (3, 4)


def test_b_frame_video_presents_its_first_frame_at_zero_like_the_audio(clip_480p, source_dir, tmp_path) -> None:
    """The shipped preset uses B-frames: no ~80 ms shift of the video against the separately encoded audio.

    FFmpeg's default timing put the first frame at 0.08 s in Chromium's MSE (measured with
    ``SourceBuffer.buffered``) while the audio starts at 0; ISO BMFF presentation times are what
    MSE uses, so they are what this checks.
    """
    one_rung = "[{name: 360p, width: 640, height: 360, bitrate_kbps: 500}]"
    overrides = [
        f"ingest.allowed_roots=[{source_dir}]",
        "transcode.mode=serial",
        "transcode.profiles=[mobile]",
        f"transcode.ladders.mobile.rungs={one_rung}",
    ]  # default x264 preset: veryfast, 3 B-frames
    record = ingest_title(clip_480p, "bframes", overrides=overrides, media_root=tmp_path)
    video = published_dir(tmp_path, record) / record.renditions[0].id
    init = read_init(video / "init.mp4")
    for segment in sorted(video.glob("seg_*.m4s")):
        fragment = read_fragment(segment, init)
        assert fragment.earliest_presentation_time == fragment.base_media_decode_time, segment.name
    first_video_s = read_fragment(video / "seg_00001.m4s", init).earliest_presentation_time / init.timescale
    audio = published_dir(tmp_path, record) / "audio"
    audio_init = read_init(audio / "init.mp4")
    first_audio_s = read_fragment(audio / "seg_00001.m4s", audio_init).earliest_presentation_time / audio_init.timescale
    assert first_video_s == 0.0
    assert abs(first_video_s - first_audio_s) < 1024 / 48000  # within one AAC frame


def test_a_track_missing_its_last_segments_is_refused(published: Path, tmp_path: Path) -> None:
    """FFmpeg can fail to open a segment file and still exit 0: packaging notices the short track."""
    import shutil

    from streamlab.streaming.packaging.package import package_title
    from streamlab.streaming.packaging.segments import PackagingError
    from streamlab.streaming.transcode.ladder import Rung

    copy = tmp_path / "clip"
    shutil.copytree(published, copy)
    (copy / "360p_500k" / "seg_00003.m4s").unlink()
    (copy / "360p_500k" / "seg_00002.m4s").unlink()
    rung = Rung(id="360p_500k", profile="mobile", codec="h264", width=640, height=360, bitrate_kbps=500)
    with pytest.raises(PackagingError, match="stopped early"):
        package_title(copy, [rung], 25.0, audio_bitrate_kbps=None, expected_duration_s=6.0)
