"""The demo's own pieces: the looped clip, binge sessions, viewer placement with a labelled incident, the verdict."""

from __future__ import annotations

import numpy as np
import pytest

from models.abr.traces import Trace
from pipelines.demo.report import found_incident
from pipelines.demo.run import loop_clip
from pipelines.demo.viewers import IncidentSettings, ViewerSettings, binge, plan_viewers
from streaming.headless.manifest import PlayerRung, PlayerTitle


def test_loop_clip_repeats_the_real_clip_at_a_constant_frame_rate(raw_dir, tmp_path) -> None:
    from streaming.ingest.probe import probe_source

    out = loop_clip(raw_dir / "videos" / "carphone_pristine.mp4", 10.0, tmp_path / "looped.mp4")
    probed = probe_source(out)
    assert probed.info.duration_s == pytest.approx(10.0, abs=0.25)
    assert (probed.info.width, probed.info.height) == (176, 144)
    assert not list(tmp_path.glob("*.part.mp4")), "no partial file is left behind"
    from streaming.quality.video_info import read_video_info

    assert not read_video_info(out).variable_frame_rate, "per-title ladders refuse variable frame rate sources"


def test_binge_repeats_every_rung_segment_for_segment() -> None:
    rung = PlayerRung(500.0, 600.0, "640x360", "init", ("a", "b"), (4.0, 2.0))
    title = binge(PlayerTitle("t", "m", (rung, rung)), 3)
    assert title.segment_count == 6 and title.rungs[1].segment_urls == ("a", "b") * 3
    assert title.rungs[0].segment_durations_s == (4.0, 2.0) * 3


def _traces() -> list[Trace]:
    t = np.arange(0, 400.0)
    return [Trace(f"tr{i}", t, np.full_like(t, 2.0 + i)) for i in range(5)]


def test_viewers_on_the_incident_edge_inside_its_window_get_the_collapsed_link() -> None:
    settings = ViewerSettings(sessions=40, arrival_spread_s=40.0, edges=["eu-west-1", "eu-west-2"],
                              incident=IncidentSettings(edge="eu-west-2", throughput_factor=0.1,
                                                        start_fraction=0.25, end_fraction=0.75))
    plans, truth, started_at = plan_viewers(_traces(), "bbb", settings, time_scale=8.0)
    hit = [p for p in plans if p.in_incident]
    assert hit and all(p.viewer.edge == "eu-west-2" for p in hit)
    assert all(0.25 * 40 <= p.arrive_after_s <= 0.75 * 40 for p in hit)
    assert all(p.trace.bandwidth_mbps.max() < 0.8 for p in hit), "scaled to a tenth of 2-6 Mbit/s"
    assert {p.viewer.region for p in plans} == {"eu-west"}
    assert truth["dimension"] == "edge" and truth["value"] == "eu-west-2" and truth["sessions"] == len(hit)
    assert truth["start"] == pytest.approx(started_at + 0.25 * 40 * 8.0)


def test_the_verdict_needs_the_right_edge_overlapping_the_incident() -> None:
    truth = {"dimension": "edge", "value": "eu-west-2", "start": 1000.0, "end": 1300.0}
    right = {"dimension": "edge", "value": "eu-west-2", "start": 1060.0, "end": 1400.0}
    assert found_incident(truth, [right]) == {"injected": True, "found": True, "delay_s": 60.0, "other_alerts": 0}
    wrong_value = {**right, "value": "eu-west-1"}
    region = {**right, "dimension": "region", "value": "eu-west"}
    late = {**right, "start": 1500.0, "end": 1600.0}
    assert found_incident(truth, [wrong_value, region, late])["found"] is False
    assert found_incident(None, [right]) == {"injected": False}
