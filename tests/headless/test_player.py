"""Real segments over HTTP from the edge, a shaped link per session, the buffer model and QoE."""

from __future__ import annotations

import httpx
import pytest

from streamlab.streaming.headless.manifest import ManifestError, load_title
from streamlab.streaming.headless.player import play_session
from streamlab.streaming.headless.policies import BolaPolicy, LocalLearnedPolicy
from streamlab.streaming.headless.runner import compare
from tests.headless.conftest import TITLE


@pytest.fixture()
def title(stack):
    with httpx.Client(trust_env=False) as client:
        return load_title(client, stack.edge_url, TITLE)


def test_manifest_gives_the_h264_rungs_lowest_first(title) -> None:
    rates = [r.bitrate_kbps for r in title.rungs]
    assert len(rates) == 4 and rates == sorted(rates)
    assert title.segment_count == 12 and title.segment_duration_s == pytest.approx(2.0)


def test_unknown_title_is_a_clear_error(stack) -> None:
    with httpx.Client(trust_env=False) as client, pytest.raises(ManifestError, match="HTTP 404"):
        load_title(client, stack.edge_url, "no-such-title")


def test_session_fetches_every_real_segment(stack, title, traces, fast_settings) -> None:
    result = play_session(title, traces[0], BolaPolicy(), fast_settings)
    assert result.error is None and len(result.chunks) == title.segment_count
    for chunk in result.chunks:  # the bytes read are the published files, byte for byte in count
        rung = title.rungs[chunk.rung]
        segment = rung.segment_urls[chunk.index].split("/media/", 1)[1]
        assert chunk.bytes == (stack.media_root / segment).stat().st_size
    assert result.startup_s > 0 and result.score is not None
    assert result.score.play_s == pytest.approx(22.0)


def test_slow_link_stalls_playback(title, traces, fast_settings) -> None:
    slow = traces[0].scaled(0.05)  # ~tens of kbit/s: even the lowest rung outruns it
    result = play_session(title, slow, BolaPolicy(), fast_settings.model_copy(update={"time_scale": 200.0}))
    assert result.rebuffer_s > 0 and result.score.qoe < 0


def test_runner_plays_the_same_sessions_for_every_policy(stack, traces, fast_settings) -> None:
    reports = compare(
        stack.edge_url, TITLE, traces[:4], {"bola": BolaPolicy, "learned": LocalLearnedPolicy}, fast_settings
    )
    for name, report in reports.items():
        assert report["sessions"] == 4 and report["failed_requests"] == 0, name
        assert report["decisions_local"] == 4 * 12
    assert reports["learned"]["mean_bitrate_kbps"] > reports["bola"]["mean_bitrate_kbps"]
    assert reports["learned"]["edge_errors"] == 0 and 0.0 <= reports["learned"]["edge_hit_ratio"] <= 1.0


def test_chunk_sizes_follow_each_segments_duration_and_its_ext_x_bitrate() -> None:
    import m3u8

    from streamlab.streaming.headless.manifest import segment_sizes

    playlist = m3u8.loads(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\na.m4s\n#EXT-X-BITRATE:400\n#EXTINF:4.0,\nb.m4s\n"
        "#EXTINF:2.0,\nc.m4s\n#EXT-X-ENDLIST\n"
    )
    # a: the rung's 800 kbit/s x 4 s; b: its own 400 kbit/s; c: 400 carried forward, over 2 s
    assert segment_sizes(playlist, 800.0) == (400_000, 200_000, 100_000)


def test_decisions_see_the_manifests_chunk_sizes(title) -> None:
    from streamlab.streaming.headless.player import request_for

    request = request_for(title, title.segment_count - 2, 0, 4.0, [], None)
    for rung, sent in zip(title.rungs, request.ladder, strict=True):
        assert sent.chunk_sizes_bytes == list(rung.segment_sizes_bytes[-2:])  # only the chunks that are left
        # EXT-X-BITRATE carries each segment's real size (to the tag's 1 kbit/s rounding), not bitrate x duration
        actual = len(httpx.get(rung.segment_urls[-2], trust_env=False).content)
        assert sent.chunk_sizes_bytes[0] == pytest.approx(actual, abs=1000 / 8 * rung.segment_durations_s[-2] / 2 + 1)


def test_a_binge_session_plays_the_title_back_to_back(stack, traces, fast_settings) -> None:
    from streamlab.streaming.headless.runner import SessionJob, SessionPlan, play_viewer

    settings = fast_settings.model_copy(update={"episodes": 2})
    job = SessionJob(SessionPlan(traces[0], 0.0), "bola", BolaPolicy, 0.0, "binge-1")
    result = play_viewer(stack.edge_url, TITLE, job, settings)
    assert result.error is None and len(result.chunks) == 24, "12 segments, twice"
    assert [c.index for c in result.chunks] == list(range(24))
