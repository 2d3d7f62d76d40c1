"""Probing the real clips: what ingest learns about a source before encoding it."""

from __future__ import annotations

from pathlib import Path

from streamlab.streaming.ingest.probe import probe_source


def test_bigbuckbunny_is_720p25_with_surround_aac(raw_dir: Path) -> None:
    probe = probe_source(raw_dir / "videos" / "bigbuckbunny.mp4")
    info = probe.info
    assert (info.width, info.height, info.fps, info.video_codec) == (1280, 720, 25.0, "h264")
    assert info.duration_s == 5.28 and probe.video_frames == 132
    assert info.has_audio and info.audio_codec == "aac"
    assert (probe.audio_channels, probe.audio_sample_rate_hz) == (6, 48000)


def test_bikes_is_wide_and_silent(raw_dir: Path) -> None:
    probe = probe_source(raw_dir / "videos" / "bikes.mp4")
    assert (probe.info.width, probe.info.height, probe.info.duration_s) == (640, 272, 10.0)
    assert not probe.info.has_audio and probe.audio_channels is None


def test_carphone_non_square_pixels_give_a_wider_display_size(raw_dir: Path) -> None:
    probe = probe_source(raw_dir / "videos" / "carphone_pristine.mp4")
    assert (probe.info.width, probe.info.height, probe.info.fps) == (176, 144, 29.97)
    assert not probe.info.has_audio
    # sample aspect ratio 128:117 -> shown 193 px wide; the ladder fits that, not the coded width
    assert (probe.display_width, probe.display_height) == (193, 144)


def test_rotated_phone_clip_is_probed_in_its_display_orientation(clip_rotated: Path) -> None:
    probe = probe_source(clip_rotated)
    assert (probe.info.width, probe.info.height) == (640, 360)  # as stored
    assert (probe.display_width, probe.display_height, probe.rotation_deg) == (360, 640, 90)


def test_cover_art_is_not_mistaken_for_the_video(clip_with_cover_art: Path) -> None:
    import av

    with av.open(str(clip_with_cover_art)) as container:
        kinds = [
            (s.codec_context.name, bool(s.disposition & av.stream.Disposition.attached_pic)) for s in container.streams
        ]
    assert sorted(kinds) == [("h264", False), ("png", True)]
    probe = probe_source(clip_with_cover_art)
    assert kinds[probe.video_stream_index] == ("h264", False)
    assert (probe.info.width, probe.info.height, probe.info.video_codec) == (640, 360, "h264")
