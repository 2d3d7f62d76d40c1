"""Property tests of the live packager's pure parts: timeline (parts → segments → DVR) and playlists.

Synthetic CMAF chunks (timing only) go through the same :class:`RungTimeline` and playlist writer
as a running channel; every playlist along the way must parse with ``m3u8`` and keep the LL-HLS
invariants of :mod:`tests.live.llhls_checks`.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamlab.streaming.live.cmaf import Chunk
from streamlab.streaming.live.playlist import ServerControl, media_playlist
from streamlab.streaming.live.timeline import RungTimeline
from streamlab.streaming.packaging.mp4box import FragmentInfo, InitInfo
from tests.live.llhls_checks import check_delta, check_one, check_sequence, parse

TIMESCALE = 15360
FPS = 30
PART_FRAMES = 10
INIT = InitInfo("vide", "avc1", "avc1.42c01e", TIMESCALE, 0, 0, width=640, height=360)
CONTROL = ServerControl(target_duration_s=2, part_target_s=0.334, part_hold_back_s=1.002, can_skip_until_s=12.0, parts_kept_segments=2)
NOW = 1_800_000_000.0


def chunk(start_frame: int, frames: int, keyframe: bool) -> Chunk:
    tick = TIMESCALE // FPS
    info = FragmentInfo(start_frame * tick, frames * tick, frames, keyframe, start_frame * tick)
    return Chunk(b"\0" * 16, info)


# One run of the transcoder: (number of 10-frame parts, every 6th part a keyframe) per generation.
generations = st.lists(st.integers(1, 40), min_size=1, max_size=3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=generations, window_s=st.sampled_from([4.0, 8.0, 30.0]))
def test_playlists_keep_the_llhls_invariants(tmp_path: Path, runs: list[int], window_s: float) -> None:
    timeline = RungTimeline("360p", tmp_path / f"r{len(list(tmp_path.iterdir()))}", 2.0, window_s)
    previous = None
    frame = 0
    for generation, parts in enumerate(runs):
        timeline.start_generation(b"init", INIT)
        frame += 45 * generation  # a backup feed's clock: a gap, signalled as a discontinuity
        for index in range(parts):
            timeline.add_chunk(chunk(frame, PART_FRAMES, keyframe=index % 6 == 0), now_s=NOW)
            frame += PART_FRAMES
            full = media_playlist(timeline, CONTROL, {})
            snap = check_one(full)
            if previous is not None:
                check_sequence(previous, snap)
            check_delta(full, media_playlist(timeline, CONTROL, {}, skip=True))
            previous = snap
    # DVR: what slid out of the window is gone from the playlist and from disk
    on_disk = {path.name for path in timeline.folder.glob("seg*.m4s")}
    listed = {segment.uri for segment in timeline.segments} | {p.uri for s in timeline.segments for p in s.parts}
    assert on_disk == {name for name in listed if name in on_disk} and listed >= on_disk
    end = timeline.newest_pdt_end_s
    complete = [s for s in timeline.segments if s.complete]
    for segment in complete[:-1]:
        assert end - (segment.pdt_s + segment.duration_s) <= window_s + 2.0


def test_discontinuity_is_signalled_with_a_new_map(tmp_path: Path) -> None:
    timeline = RungTimeline("360p", tmp_path / "r", 2.0, 60.0)
    timeline.start_generation(b"init", INIT)
    for index in range(8):
        timeline.add_chunk(chunk(index * 10, 10, index % 6 == 0), now_s=NOW)
    timeline.start_generation(b"init", INIT)
    for index in range(7):
        timeline.add_chunk(chunk(200 + index * 10, 10, index % 6 == 0), now_s=NOW)
    playlist, _ = parse(media_playlist(timeline, CONTROL, {}))
    assert [bool(s.discontinuity) for s in playlist.segments] == [False, False, True, False]
    assert playlist.segments[2].init_section.uri == "init1.mp4"
    assert playlist.segments[1].duration < 1.0  # the cut-short segment of the lost feed is published, short


def test_delta_update_skips_only_beyond_can_skip_until(tmp_path: Path) -> None:
    timeline = RungTimeline("360p", tmp_path / "r", 2.0, 60.0)
    timeline.start_generation(b"init", INIT)
    for index in range(60):  # 20 s: 10 segments
        timeline.add_chunk(chunk(index * 10, 10, index % 6 == 0), now_s=NOW)
    delta, snap = parse(media_playlist(timeline, CONTROL, {}, skip=True))
    assert snap.skipped == 4  # segments starting more than 12 s before the end (20 s): 0..3
    full = media_playlist(timeline, CONTROL, {})
    check_delta(full, media_playlist(timeline, CONTROL, {}, skip=True))


AUDIO_INIT = InitInfo("soun", "mp4a", "mp4a.40.2", 48_000, 0, 0)


def test_audio_segments_stay_on_the_video_segment_grid(tmp_path: Path) -> None:
    """AAC parts (15 frames of 1024 samples, 0.32 s) do not divide a 2 s segment: segments
    alternate around the grid instead of drifting off it, so audio segment N spans video segment N."""
    timeline = RungTimeline("audio", tmp_path / "audio", 2.0, 600.0)
    timeline.start_generation(b"init", AUDIO_INIT)
    part = 15 * 1024
    first = 1000 * 48_000 - 2048  # the encoder's priming: audio starts a little before the video
    for index in range(400):  # 128 s
        start = first + index * part
        timeline.add_chunk(Chunk(b"\0" * 16, FragmentInfo(start, part, 15, True, start)), now_s=NOW)
        check_one(media_playlist(timeline, CONTROL, {}))
    complete = [s for s in timeline.segments if s.complete]
    assert len(complete) >= 60
    for segment in complete:
        grid_s = first / 48_000 + segment.msn * 2.0
        assert abs(segment.media_start_s - grid_s) <= 0.16 + 1e-6, (segment.msn, segment.media_start_s - grid_s)
        assert round(segment.duration_s) <= CONTROL.target_duration_s  # EXTINF rounds to at most TARGETDURATION
