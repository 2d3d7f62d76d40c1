"""The load generator's viewers catch up a late start the way the live page's hls.js does
(``maxLiveSyncPlaybackRate: 1.1``), so a crowd's latency to live is comparable with the
single-viewer figure measured with it. A crowd's viewers start late: they join on the plain
playlist the edge caches (``max-age=1`` at each tier), about half a second older than the one a
lone viewer gets; without live sync that start stayed for the whole watch (a 1,000-viewer Varnish
crowd: 2.04 s median against 0.96 s for one viewer)."""

from __future__ import annotations

import pytest

from streamlab.pipelines.peak.run import find_traces
from streamlab.pipelines.peak.settings import load_peak_settings
from streamlab.streaming.loadgen.crowd import CrowdSpec, plan_viewers
from streamlab.streaming.loadgen.llhls import PartRef
from streamlab.streaming.loadgen.viewer import HLSJS_STALL_INCREASE_S, Viewer, ViewerPlan

PART_S = 1 / 3
HOLD_BACK_S = 1.0
TARGET_S = 2.0
DELIVERY_S = 0.03


def watch(start_latency_s: float, seconds: float, max_rate: float = 1.1, stalls: int = 0,
          stall_increase_s: float = 0.0) -> tuple[Viewer, list[float]]:
    """A viewer on a perfect link, ``start_latency_s`` behind a channel writing a part every
    ``PART_S`` (each part's PDT is its writing time, as on the synthetic channel), for ``seconds``.
    Returns the viewer and the playback rate after every part."""
    plan = ViewerPlan(0, 0.0, seconds, (0.0, 1.0), (10.0, 10.0), 0.0)
    viewer = Viewer(plan, "http://127.0.0.1:9/live/x/master.m3u8", None, 0.0, 0.0, 1.0, max_rate, stall_increase_s)
    viewer.target_latency_s, viewer.stall_increase_cap_s = HOLD_BACK_S, TARGET_S
    viewer.result.stalls = stalls
    joined = 1000.0  # the model's monotonic clock
    viewer.joined_at = viewer.clock_at = joined
    wall = joined + viewer.wall_offset
    first_pdt = wall - start_latency_s
    rates = []
    for k in range(round(seconds / PART_S)):
        pdt = first_pdt + k * PART_S
        now = max(joined + 0.001 * k, pdt - viewer.wall_offset + DELIVERY_S)  # the back-fill at once, then live
        viewer.add_media(PartRef(k // 6, k % 6, f"seg{k // 6}.{k % 6}.m4s", PART_S, pdt), now)
        rates.append(viewer.rate)
    return viewer, rates


def test_a_viewer_that_started_late_closes_the_gap_to_the_hold_back_at_most_1_1x() -> None:
    viewer, rates = watch(start_latency_s=1.5, seconds=30)
    latencies = viewer.result.latency_s
    assert viewer.result.first_latency_s == pytest.approx(1.5, abs=0.05)
    assert latencies[0] > 1.4
    assert HOLD_BACK_S <= latencies[-1] <= HOLD_BACK_S + 0.15  # caught up, and not below the hold-back
    assert max(rates) == pytest.approx(1.1) and min(rates) == 1.0
    assert viewer.result.stalls == 0 and viewer.result.sped_up_s > 3  # 0.45 s at +5-10 %: several seconds
    assert sorted(latencies, reverse=True) == pytest.approx(latencies, abs=0.02)  # it only ever gains


def test_without_live_sync_a_late_start_is_kept_for_the_whole_watch() -> None:
    viewer, rates = watch(start_latency_s=1.5, seconds=30, max_rate=1.0)
    assert set(rates) == {1.0} and viewer.result.sped_up_s == 0
    assert min(viewer.result.latency_s) > 1.4


def test_a_viewer_at_its_target_plays_in_real_time() -> None:
    viewer, rates = watch(start_latency_s=1.0, seconds=15)
    assert set(rates) == {1.0}
    assert viewer.result.latency_s[-1] == pytest.approx(viewer.result.latency_s[0], abs=0.01)


def test_with_hlsjs_stall_increase_each_stall_moves_the_target_back_up_to_a_target_duration() -> None:
    once, _ = watch(start_latency_s=2.5, seconds=30, stalls=1, stall_increase_s=HLSJS_STALL_INCREASE_S)
    assert HOLD_BACK_S + 1.0 <= once.result.latency_s[-1] <= HOLD_BACK_S + 1.15
    often, _ = watch(start_latency_s=3.2, seconds=15, stalls=5, stall_increase_s=HLSJS_STALL_INCREASE_S)
    assert often.result.latency_s[-1] >= HOLD_BACK_S + TARGET_S  # capped at +2 s: 3 s, it stays above
    # the crowd's default: a viewer that stalled catches up to the hold-back like any other
    crowd, _ = watch(start_latency_s=2.5, seconds=40, stalls=1)
    assert crowd.result.latency_s[-1] <= HOLD_BACK_S + 0.15


def test_a_viewer_further_behind_than_a_target_duration_past_its_target_is_left_to_the_seek() -> None:
    far, rates = watch(start_latency_s=HOLD_BACK_S + TARGET_S + 1.5, seconds=10)
    assert set(rates) == {1.0}


def test_a_constant_link_replaces_the_traces_for_a_lone_viewers_baseline() -> None:
    [trace] = find_traces(load_peak_settings(["crowd.link_mbps=100"]))
    [plan] = plan_viewers(CrowdSpec("http://127.0.0.1:9/live/x/master.m3u8", None, 1, 30.0, 0.0), [trace])
    assert set(plan.trace_mbps) == {100.0} and plan.join_at_s == 0.0
