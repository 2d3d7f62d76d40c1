"""Property tests for the packager's pure parts: the MP4 box reader, timelines and playlists."""

from __future__ import annotations

from pathlib import Path

import m3u8
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamlab.streaming.ffmpeg import run_ffmpeg
from streamlab.streaming.packaging.dash import segment_timeline
from streamlab.streaming.packaging.hls import media_playlist
from streamlab.streaming.packaging.mp4box import InitInfo, MP4BoxError, read_fragment, read_init
from streamlab.streaming.packaging.segments import Segment, Track

TIMESCALE = 12800
INIT = InitInfo("vide", "avc1", "avc1.64001e", TIMESCALE, 0, 0, width=640, height=360)


def track_of(durations: list[int], start: int = 0) -> Track:
    segments, t = [], start
    for number, duration in enumerate(durations, start=1):
        segments.append(Segment(number, f"seg_{number:05d}.m4s", t, duration, 1000, True))
        t += duration
    return Track("v", INIT, segments)


durations_strategy = st.lists(st.integers(1, 10 * TIMESCALE), min_size=1, max_size=60)


@given(durations=durations_strategy, start=st.integers(0, 10**9))
def test_segment_timeline_expands_back_to_every_segment(durations: list[int], start: int) -> None:
    expanded, t = [], None
    for s in segment_timeline(track_of(durations, start)):
        t = int(s.get("t", t))
        for _ in range(1 + int(s.get("r", "0"))):
            expanded.append((t, int(s.get("d"))))
            t += int(s.get("d"))
    track = track_of(durations, start)
    assert expanded == [(seg.start, seg.duration) for seg in track.segments]


@given(durations=durations_strategy)
def test_equal_segments_collapse_into_one_timeline_entry(durations: list[int]) -> None:
    runs = len(segment_timeline(track_of([durations[0]] * len(durations))))
    assert runs == 1


@given(durations=durations_strategy)
def test_media_playlist_round_trips_through_the_m3u8_parser(durations: list[int]) -> None:
    playlist = m3u8.loads(media_playlist(track_of(durations)))
    assert [s.uri for s in playlist.segments] == [f"seg_{i:05d}.m4s" for i in range(1, len(durations) + 1)]
    assert [s.duration for s in playlist.segments] == pytest.approx([d / TIMESCALE for d in durations], abs=1e-6)
    assert playlist.target_duration >= max(round(d / TIMESCALE) for d in durations)  # RFC 8216 §4.3.3.1
    assert playlist.is_endlist and playlist.segment_map[0].uri == "init.mp4"


@pytest.fixture(scope="module")
def cmaf_track(tmp_path_factory: pytest.TempPathFactory, clip_360p_silent: Path) -> Path:
    out = tmp_path_factory.mktemp("cmaf")
    run_ffmpeg(
        ["-i", clip_360p_silent, "-c", "copy", "-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", "2", "-start_number", "1",
         "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", out / "seg_%05d.m4s", out / "p.m3u8"],
        "segmenting a test clip",
    )  # fmt: skip
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(0.0, 0.999))
def test_truncated_boxes_raise_a_clear_error_or_parse(cmaf_track: Path, tmp_path: Path, fraction: float) -> None:
    """A cut file is a packaging error naming the file, never an IndexError/struct.error."""
    for name in ("init.mp4", "seg_00001.m4s"):
        data = (cmaf_track / name).read_bytes()
        cut = tmp_path / name
        cut.write_bytes(data[: int(len(data) * fraction)])
        init = read_init(cmaf_track / "init.mp4")
        try:
            read_init(cut) if name == "init.mp4" else read_fragment(cut, init)
        except MP4BoxError as exc:
            assert str(cut) in str(exc)
