"""Several audio languages (stereo and 5.1) and sidecar subtitles through Shaka Packager.

The source is generated: a test picture with two lavfi tones tagged ``eng`` (stereo) and ``fra``
(5.1); the subtitle files (WebVTT and SRT) are written by the test. The tracks are encoded into
their CMAF folders and packaged; the facts are read back from the manifests and the files.
"""

from __future__ import annotations

import re
from pathlib import Path

import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.packaging.package import package_title
from streamlab.streaming.packaging.subtitles import SubtitleError, subtitle, to_webvtt
from streamlab.streaming.transcode.audio_tracks import AudioTrackError, encode_audio_tracks, probe_audio_streams
from streamlab.streaming.transcode.ladder import Rung

RUNG = Rung(id="180p_300k", profile="main", codec="h264", width=320, height=180, bitrate_kbps=300)
VTT_EN = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nHello there\n\n00:00:05.000 --> 00:00:07.500\nSecond line\n"
SRT_FR = "1\n00:00:01,000 --> 00:00:03,000\nBonjour\n\n2\n00:00:05,000 --> 00:00:07,500\nDeuxième ligne\n"


def _source(path: Path, languages: tuple[str, str] = ("eng", "fra")) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=9",
                "-f", "lavfi", "-i", "sine=f=440:duration=9",
                "-f", "lavfi", "-i", "sine=f=660:duration=9,pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0",
                "-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                "-ac:a:0", "2", "-metadata:s:a:0", f"language={languages[0]}",
                "-metadata:s:a:1", f"language={languages[1]}", path], "a two-language source")
    return path


def _encode_video(source: Path, title: Path) -> None:
    out = title / RUNG.id
    out.mkdir(parents=True)
    run_ffmpeg(["-i", source, "-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "300k",
                "-g", "100", "-keyint_min", "100", "-sc_threshold", "0", "-f", "hls", "-hls_time", "4",
                "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
                "-start_number", "1", "-hls_segment_filename", out / "seg_%05d.m4s", out / "encoder.m3u8"],
               "encoding the video rung")
    (out / "encoder.m3u8").unlink()


@pytest.fixture(scope="module")
def title(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("languages")
    source = _source(root / "two-languages.mp4")
    title = root / "title"
    _encode_video(source, title)
    streams = probe_audio_streams(source)
    encode_audio_tracks(source, title, streams, bitrate_kbps=128, segment_duration_s=4.0)
    (root / "en.vtt").write_text(VTT_EN)
    (root / "fr.srt").write_text(SRT_FR)
    package_title(title, [RUNG], 25.0, audio_bitrate_kbps=128, audio_streams=streams,
                  subtitles=[subtitle(root / "en.vtt", "eng", "English"), subtitle(root / "fr.srt", "fr", "Français")])
    return title


def test_audio_streams_are_probed_with_languages_and_layouts(tmp_path: Path) -> None:
    streams = probe_audio_streams(_source(tmp_path / "s.mp4"))
    assert [(s.order, s.language, s.channels, s.folder) for s in streams] == [
        (0, "en", 2, "audio_en"), (1, "fr", 6, "audio_fr_51")]


def test_hls_master_has_audio_and_subtitle_groups_with_languages(title: Path) -> None:
    master = m3u8.load(str(title / "master.m3u8"))
    audio = [(m.language, m.default, m.uri) for m in master.media if m.type == "AUDIO"]
    assert audio == [("en", "YES", "audio_en/playlist.m3u8"), ("fr", "NO", "audio_fr_51/playlist.m3u8")]
    assert re.search(r'TYPE=AUDIO,[^\n]*LANGUAGE="fr",[^\n]*CHANNELS="6"', (title / "master.m3u8").read_text())
    subs = [(m.language, m.name, m.group_id) for m in master.media if m.type == "SUBTITLES"]
    assert subs == [("en", "English", "subs"), ("fr", "Français", "subs")]
    (variant,) = master.playlists
    assert variant.stream_info.audio == "audio" and variant.stream_info.subtitles == "subs"
    french = m3u8.load(str(title / "subs_fr" / "playlist.m3u8"))
    cues = "".join((title / "subs_fr" / s.uri).read_text() for s in french.segments)
    assert "Bonjour" in cues and "Deuxième ligne" in cues


def test_dash_has_one_adaptation_set_per_language_with_roles(title: Path) -> None:
    sets = MPEGDASHParser.parse(str(title / "manifest.mpd")).periods[0].adaptation_sets
    audio = {s.lang: s for s in sets if s.content_type == "audio"}
    assert set(audio) == {"en", "fr"}
    assert audio["fr"].representations[0].audio_channel_configurations[0].value == "6"
    assert [r.value for r in audio["en"].roles] == ["main"]
    text = {s.lang: s for s in sets if s.content_type == "text"}
    assert set(text) == {"en", "fr"} and all([r.value for r in s.roles] == ["subtitle"] for s in text.values())


@pytest.mark.parametrize("body, message", [
    ("WEBVTT\n\n00:00:03.000 --> 00:00:01.000\nbackwards\n", "line 3: cue ends before it starts"),
    ("1\n00:00:01,000 -> 00:00:02,000\nno arrow\n", "line 1: expected a cue timing"),
    ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\n", "line 3: cue without text"),
    ("WEBVTT\n\n00:00:01.000 --> 00:61:02.000\ntoo late\n", "line 3: timestamp 61:02 out of range"),
    ("", "no cues"),
])
def test_a_bad_subtitle_file_is_one_clear_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.vtt"
    path.write_text(body)
    with pytest.raises(SubtitleError, match=re.escape(f"bad.vtt: {message}")):
        to_webvtt(path)


def test_unknown_language_tags_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AudioTrackError, match=r"audio stream 1: unknown language tag 'xyz'"):
        probe_audio_streams(_source(tmp_path / "s.mp4", ("eng", "xyz")))
    with pytest.raises(SubtitleError, match="unknown language tag 'klingon'|not a BCP 47"):
        subtitle(tmp_path / "x.vtt", "klingon")
    with pytest.raises(SubtitleError, match="unknown language tag 'qq'"):
        subtitle(tmp_path / "x.vtt", "qq")


def test_a_bad_subtitle_leaves_the_encoded_title_unpackaged(title: Path, tmp_path: Path) -> None:
    """The file is checked before Shaka runs: nothing of the title is rewritten, no manifest appears."""
    import shutil

    work = tmp_path / "title"
    shutil.copytree(title / RUNG.id, work / RUNG.id)
    before = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    (tmp_path / "bad.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\n")
    with pytest.raises(SubtitleError, match="bad.srt: line 2: cue without text"):
        package_title(work, [RUNG], 25.0, audio_bitrate_kbps=None, subtitles=[subtitle(tmp_path / "bad.srt", "en")])
    assert {p: p.read_bytes() for p in work.rglob("*") if p.is_file()} == before
