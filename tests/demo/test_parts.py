"""The demo's own pieces: the looped clip, binge sessions, viewer placement with a labelled incident, the verdict."""

from __future__ import annotations

import numpy as np
import pytest

from streamlab.models.abr.traces import Trace
from streamlab.pipelines.demo.report import DETECTION_GRACE_S, _alert_row, found_incident
from streamlab.pipelines.demo.run import loop_clip
from streamlab.pipelines.demo.viewers import IncidentSettings, ViewerSettings, plan_viewers
from streamlab.streaming.headless.manifest import PlayerRung, PlayerTitle, binge


def test_loop_clip_repeats_the_real_clip_at_a_constant_frame_rate(raw_dir, tmp_path) -> None:
    from streamlab.streaming.ingest.probe import probe_source

    out = loop_clip(raw_dir / "videos" / "carphone_pristine.mp4", 10.0, tmp_path / "looped.mp4")
    probed = probe_source(out)
    assert probed.info.duration_s == pytest.approx(10.0, abs=0.25)
    assert (probed.info.width, probed.info.height) == (176, 144)
    assert not list(tmp_path.glob("*.part.mp4")), "no partial file is left behind"
    from streamlab.streaming.quality.video_info import read_video_info

    assert not read_video_info(out).variable_frame_rate, "per-title ladders refuse variable frame rate sources"


def test_binge_repeats_every_rung_segment_for_segment() -> None:
    rung = PlayerRung(500.0, 600.0, "640x360", "init", ("a", "b"), (4.0, 2.0))
    title = binge(PlayerTitle("t", "m", (rung, rung)), 3)
    assert title.segment_count == 6 and title.rungs[1].segment_urls == ("a", "b") * 3
    assert title.rungs[0].segment_durations_s == (4.0, 2.0) * 3
    assert binge(title, 1) is title


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


def test_an_alert_a_window_after_a_short_incident_ends_finds_it_and_the_table_agrees() -> None:
    """The demo said "NOT found" while its table listed the right edge at +180 s (the incident ended at +176 s)."""
    truth = {"dimension": "edge", "value": "eu-west-2", "start": 1000.0, "end": 1176.0}
    just_after = {"dimension": "edge", "value": "eu-west-2", "start": 1180.0, "end": 1240.0}
    verdict = found_incident(truth, [just_after])
    assert verdict["found"] is True and verdict["delay_s"] == 180.0
    assert _alert_row(just_after, {"incident": truth})["names the incident"] == "yes"
    too_late = {**just_after, "start": 1176.0 + DETECTION_GRACE_S + 1, "end": 1400.0}
    assert found_incident(truth, [too_late])["found"] is False
    assert _alert_row(too_late, {"incident": truth})["names the incident"] == "no"


def _outcome(tmp_path):  # noqa: ANN001, ANN202 - eight viewers' sessions and telemetry, for the report tests
    import json

    from streamlab.models.abr.qoe import TraceScore
    from streamlab.pipelines.demo.viewers import ViewersOutcome
    from streamlab.streaming.headless.beacons import ViewerContext
    from streamlab.streaming.headless.player import ChunkRecord, SessionResult

    plans, truth, t0 = plan_viewers(_traces(), "bbb", ViewerSettings(sessions=8), time_scale=8.0)
    results = []
    for i, _ in enumerate(plans):
        chunks = [ChunkRecord(k, k % 3, 300.0 * (1 + k % 3), 200_000, 0.5, 1.0, 8.0, 0.5 if k == 4 else 0.0, 0.8,
                              "model", "plan") for k in range(6)]
        results.append(SessionResult("learned-remote", f"tr{i}", 1.2, chunks, TraceScore(0.5 - i / 10, 600.0, 0.5, 24.0, 3)))
    events = tmp_path / "telemetry.jsonl"
    viewer = ViewerContext("v", "s", "bbb", "web", "eu-west", "eu-west-2")
    events.write_text("".join(json.dumps({"kind": "heartbeat", **viewer.__dict__, "timestamp": t0 + 10 * k, "playhead_s": 1.0,
                                          "buffer_s": 5.0, "bitrate_kbps": 600.0, "throughput_kbps": 900.0}) + "\n"
                              for k in range(20)))
    outcome = ViewersOutcome(results, plans, events, {"written": 20, "posted": 20}, [], truth)
    return outcome, truth


def test_the_report_is_one_page_with_its_plots_and_is_logged_to_mlflow(tmp_path, mlflow_store) -> None:
    import json

    from streamlab.models.abr.qoe import TraceScore
    from streamlab.pipelines.demo.report import write_report
    from streamlab.pipelines.demo.run import DemoSettings
    from streamlab.pipelines.demo.train import TrainedModel
    from streamlab.pipelines.demo.viewers import ViewersOutcome
    from streamlab.streaming.headless.beacons import ViewerContext
    from streamlab.streaming.headless.player import ChunkRecord, SessionResult

    outcome, truth = _outcome(tmp_path)
    alert = {"dimension": "edge", "value": "eu-west-2", "start": truth["start"] + 30, "end": truth["end"], "severity": "major"}
    record = {"renditions": [{"codec": "h264", "average_bandwidth_bps": b * 1000, "height": h}
                             for b, h in ((340, 720), (713, 720), (1201, 720))], "ladder": "service", "drm": "clearkey"}
    models = [TrainedModel("abr", "abr-policy", "3", "abr", 30.0, {"validation_mean_qoe": 1.1})]
    settings = DemoSettings(clip="c.mp4", title_id="bbb", name="B")
    page = write_report(tmp_path, settings, models, outcome, {"ingest": record, "detect": {"alerts": [alert]},
                                                              "stage_seconds": {"train": 30.0}, "total_s": 300.0})
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 3 and "abr-policy@champion" in text
    assert "incident on edge eu-west-2: found after 30.0 s" in text
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["detection"]["found"] is True and summary["viewers"]["sessions"] == 8

    from streamlab.core import tracking

    mlflow = tracking.configure()
    runs = mlflow.search_runs(experiment_names=["demo"])
    assert len(runs) == 1 and runs.iloc[0]["metrics.incident_found"] == 1.0
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(runs.iloc[0]["run_id"])}
    assert {"report.html", "summary.json", "telemetry.jsonl", "sessions.png"} <= artifacts


def test_the_report_says_when_a_demo_model_lost_to_the_champion(tmp_path, mlflow_store) -> None:
    """A worse challenger stays registered but not promoted; the report names both numbers and what serves."""
    import json

    from streamlab.core.registry import Promotion
    from streamlab.pipelines.demo.report import write_report
    from streamlab.pipelines.demo.run import DemoSettings
    from streamlab.pipelines.demo.train import TrainedModel

    reason = ("ladder-model v2 not promoted: cv_rate_mape.h264 164 does not beat @champion v1 69.07 "
              "(lower is better)")
    refused = TrainedModel("ladder", "ladder-model", "2", "ladder-model", 60.0, {"cv_rate_mape.h264": 164.0},
                           Promotion("ladder-model", "champion", "2", 164.0, "1", 69.07, False, reason))
    assert refused.champion_version == "1"
    promoted = TrainedModel("abr", "abr-policy", "3", "abr", 30.0, {},
                            Promotion("abr-policy", "champion", "3", -0.1, "1", -0.3, True, "abr-policy v3 promoted"))
    assert promoted.champion_version == "3"
    outcome, _ = _outcome(tmp_path)
    page = write_report(tmp_path, DemoSettings(clip="c.mp4", title_id="bbb", name="B"), [refused, promoted], outcome,
                        {"ingest": {"renditions": [{"codec": "h264", "average_bandwidth_bps": 340_000, "height": 720}]},
                         "stage_seconds": {}, "total_s": 1.0})
    text = page.read_text()
    assert "164 does not beat @champion v1 69.07" in text and "ladder-model@champion = v1" in text
    summary = json.loads((tmp_path / "summary.json").read_text())
    ladder = next(m for m in summary["models"] if m["family"] == "ladder")
    assert (ladder["version"], ladder["champion_version"], ladder["promoted"]) == ("2", "1", False)
