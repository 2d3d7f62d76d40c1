"""The independent QoE world's generator and scorer (benchmarks/qoe_world), checked on a tiny day."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

from benchmarks.qoe_world.generate import DayGenerator, generate_day
from benchmarks.qoe_world.incidents import INCIDENT_TYPES, Incident
from benchmarks.qoe_world.score import V1_ALIASES, read_alerts, rename_dimensions, score_day, summarize
from benchmarks.qoe_world.traces import find_trace_dir, load_traces
from benchmarks.qoe_world.v1 import to_v1
from benchmarks.qoe_world.world import WorldConfig
from streamlab.core.errors import UsageError

TOKEN = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
DIMENSIONS = {"region", "edge", "title", "device_class", "device_model", "os", "app_version", "player_version",
              "isp", "asn", "cdn", "pathway", "connection_type", "content_type", "device_class*app_version",
              "device_class*os", "isp*region", "cdn*region", "title*rendition"}
TOKEN_FIELDS = ("viewer_id", "session_id", "title_id", "region", "edge", "device_class", "isp", "cdn", "pathway",
                "app_version", "player_version", "os", "device_model", "connection_type", "event_id")
COMMON = {"schema_version", "kind", "event_id", "seq", "timestamp", "viewer_id", "session_id", "title_id", "region",
          "edge", "device_class", "content_type", "isp", "asn", "cdn", "pathway", "app_version", "player_version", "os",
          "device_model", "connection_type", "cmcd"}
HEARTBEAT = COMMON | {"playhead_s", "buffer_s", "bitrate_kbps", "resolution_height", "rendition", "throughput_kbps",
                      "startup_s", "rebuffer_count", "rebuffer_s", "bitrate_switches", "errors", "live_latency_s",
                      "dropped_frames"}
SESSION_END = COMMON | {"started_at", "outcome", "startup_s", "play_s", "rebuffer_count", "rebuffer_s",
                        "bitrate_switches", "errors", "rebuffering_ratio", "avg_bitrate_kbps", "avg_resolution_height",
                        "live_latency_s", "failure_reason", "chunk_qoe_mean"}
CMCD = {"br", "bl", "bs", "cid", "d", "dl", "mtp", "nor", "ot", "pr", "rtp", "sf", "sid", "st", "su", "tb"}
FAILURES = {"video_start_failure", "video_playback_failure"}
NO_START = {"exit_before_video_start", "video_start_failure"}


@pytest.fixture(scope="module")
def traces() -> list[list[float]]:
    return load_traces(find_trace_dir(), limit=20)


@pytest.fixture(scope="module")
def tiny_day(tmp_path_factory: pytest.TempPathFactory, traces: list[list[float]]) -> tuple[list[dict], dict, Path]:
    folder = tmp_path_factory.mktemp("world")
    cfg = WorldConfig(sessions_per_day=250, titles=40)
    labels = generate_day(cfg, 7, 0, folder / "day0.jsonl", folder / "day0.labels.json", traces)
    events = [json.loads(line) for line in (folder / "day0.jsonl").read_text().splitlines()]
    return events, labels, folder


def test_events_are_sorted_schema_v2_and_consistent(tiny_day: tuple[list[dict], dict, Path]) -> None:
    events, labels, _ = tiny_day
    assert len(events) == labels["summary"]["events"] > 1000
    assert labels["summary"]["max_pending_events"] < len(events) / 4, "events are streamed, not held for the day"
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert all(labels["start"] <= t for t in stamps)
    ends: dict[str, dict] = {}
    last: dict[str, dict] = {}
    for e in events:
        assert e["schema_version"] == 2 and e["kind"] in ("heartbeat", "session_end")
        assert set(e) <= (HEARTBEAT if e["kind"] == "heartbeat" else SESSION_END), "only SCHEMA.md's fields"
        assert set(e.get("cmcd", {})) <= CMCD
        assert all(TOKEN.match(str(e[f])) for f in TOKEN_FIELDS), e
        sid = e["session_id"]
        assert sid not in ends, "an event after its session's end"
        prev = last.get(sid)
        if prev is not None:
            assert e["seq"] == prev["seq"] + 1
            for counter in ("rebuffer_count", "rebuffer_s", "bitrate_switches", "errors"):
                assert e.get(counter, 0) >= prev.get(counter, 0), (counter, prev, e)
        if e["kind"] == "heartbeat":
            assert e["cmcd"]["sid"] == sid and e["cmcd"]["cid"] == e["title_id"]
            assert e["cmcd"]["st"] == ("l" if e["content_type"] == "live" else "v")
            assert 0 <= e["buffer_s"] <= 600 and e["bitrate_kbps"] > 0
            assert (e["rebuffer_s"] == 0) or e["rebuffer_count"] > 0 if "rebuffer_s" in e else True
        else:
            assert e["started_at"] <= e["timestamp"]
            assert (e["startup_s"] is None) == (e["outcome"] in NO_START)
            assert ("failure_reason" in e) == (e["outcome"] in FAILURES)
            ends[sid] = e
        last[sid] = e
    assert set(last) == set(ends), "every session ends exactly once"
    assert len(ends) == labels["summary"]["sessions"]


def test_labels_name_scopes_the_way_alerts_do(tiny_day: tuple[list[dict], dict, Path]) -> None:
    _, labels, _ = tiny_day
    incidents = labels["incidents"]
    assert {i["type"] for i in incidents} == set(INCIDENT_TYPES)
    for inc in incidents:
        assert inc["dimension"] in DIMENSIONS
        assert inc["value"].count("*") == inc["dimension"].count("*")
        assert labels["start"] <= inc["start"] < inc["end"] <= labels["end"]
    spans = sorted((i["start"], i["end"]) for i in incidents)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), "incidents do not overlap in time"
    assert {d["type"] for d in labels["decoys"]} >= {"premiere_flash_crowd", "app_rollout"}


def test_same_seed_same_day_different_seed_differs(tmp_path: Path, traces: list[list[float]]) -> None:
    cfg = WorldConfig(sessions_per_day=60, titles=20)
    texts = []
    for seed, name in ((3, "a"), (3, "b"), (4, "c")):
        generate_day(cfg, seed, 1, tmp_path / f"{name}.jsonl", tmp_path / f"{name}.json", traces)
        texts.append((tmp_path / f"{name}.jsonl").read_text())
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def _sessions_under(incident: Incident | None, traces: list[list[float]], n: int = 100) -> list[dict]:
    """Session ends of ``n`` sessions started during an all-day incident (or none), all in its scope."""
    gen = DayGenerator(WorldConfig(sessions_per_day=10, titles=20), 11, 0, traces)
    gen.incidents = [incident] if incident else []
    gen.rollout = None
    ends = []
    t0 = gen.day_start + 3600
    for idx in range(n * 3):
        events, _ = gen.session(t0 + idx, 0, False, idx)
        end = json.loads(events[-1][1])
        if incident is None or gen._in_scope(incident, end):
            ends.append(end)
        if len(ends) >= n:
            break
    return ends


def _whole_day(kind: str, dimension: str, value: str, effect: dict) -> Incident:
    start = WorldConfig().day0_epoch_s
    return Incident("t", kind, dimension, value, start, start + 86_400, effect)


def test_incidents_change_what_they_should(traces: list[list[float]]) -> None:
    base = _sessions_under(None, traces)
    crash = _sessions_under(_whole_day("model_crash", "content_type", "vod",
                                       {"vpf_hazard_per_min": 0.18, "reason": "app_crash"}), traces)
    capped = _sessions_under(_whole_day("region_cap", "content_type", "vod", {"cap_kbps": 750.0}), traces)
    drm = _sessions_under(_whole_day("drm_slow", "content_type", "vod",
                                     {"startup_add_s": 6.0, "vsf_prob": 0.06, "reason": "drm_license_error"}), traces)

    def rate(ends: list[dict], outcome: str) -> float:
        return sum(e["outcome"] == outcome for e in ends) / len(ends)

    assert rate(crash, "video_playback_failure") > 0.3 > 10 * rate(base, "video_playback_failure")
    played = [e for e in capped if e["startup_s"] is not None]
    assert max(e["avg_bitrate_kbps"] for e in played) <= 750
    assert statistics.median(e["avg_bitrate_kbps"] for e in base if e["startup_s"]) > 1500
    base_start = statistics.median(e["startup_s"] for e in base if e["startup_s"])
    assert statistics.median(e["startup_s"] for e in drm if e["startup_s"]) > base_start + 3
    assert rate(drm, "exit_before_video_start") + rate(drm, "video_start_failure") > \
        2 * (rate(base, "exit_before_video_start") + rate(base, "video_start_failure"))


def test_v1_down_conversion_keeps_only_v1_fields(tiny_day: tuple[list[dict], dict, Path]) -> None:
    events, _, _ = tiny_day
    ebvs = next(e for e in events if e.get("outcome") == "exit_before_video_start")
    v1 = to_v1(ebvs)
    assert v1["device"] == ebvs["device_class"] and v1["playback_failed"] is True
    assert "schema_version" not in v1 and "outcome" not in v1
    beat = to_v1(next(e for e in events if e["kind"] == "heartbeat" and e["content_type"] == "live"))
    assert "live_latency_s" not in beat and "cmcd" not in beat and "errors" in beat


LABELS = {
    "day": 0, "start": 0.0, "end": 86_400.0, "decoys": [{"dimension": "app_version", "value": "5.3.0"}],
    "incidents": [
        {"id": "a", "type": "region_cap", "dimension": "region", "value": "us-east", "start": 1000.0, "end": 4000.0},
        {"id": "b", "type": "isp_collapse", "dimension": "isp*region", "value": "vivo*br-south",
         "start": 20_000.0, "end": 23_000.0},
        {"id": "c", "type": "edge_drift", "dimension": "edge", "value": "e1", "start": 50_000.0, "end": 60_000.0},
    ],
}


def _alert(dim: str, value: str, start: float, end: float, detected_at: float) -> dict:
    return {"id": f"{dim}={value}@{start}", "dimension": dim, "value": value, "start": start, "end": end,
            "detected_at": detected_at, "severity": "major"}


def test_scorer_loose_strict_delay_false_alerts() -> None:
    alerts = [
        _alert("region", "us-east", 1000, 1300, 1300),  # strict for a, 300 s
        _alert("region", "us-east", 1300, 1600, 1600),  # same group again
        _alert("region", "br-south", 21_000, 21_300, 21_300),  # overlaps b, names the wrong thing
        _alert("isp*region", "vivo*br-south", 23_500, 23_700, 23_700),  # confirmed after end + grace: loose only
        _alert("edge", "e9", 30_000, 30_300, 30_300),  # false
        _alert("edge", "e9", 31_000, 31_300, 31_300),  # false, same group
        _alert("app_version", "5.3.0", 40_000, 40_300, 40_300),  # false, a decoy
    ]
    day = score_day(alerts, LABELS, grace_s=600)
    by_id = {s.id: s for s in day.incidents}
    assert by_id["a"].strict and by_id["a"].strict_delay_s == 300
    assert by_id["b"].detected and not by_id["b"].strict and by_id["b"].delay_s == 1300
    assert not by_id["c"].detected and by_id["c"].delay_s is None
    assert day.false_groups == ["app_version=5.3.0", "edge=e9"]
    assert day.collateral_groups == ["isp*region=vivo*br-south", "region=br-south"]
    assert day.decoy_alerts == ["app_version=5.3.0"]
    s = summarize([day])
    assert s["false_alerts_per_day"] == 2
    assert s["recall"] == pytest.approx(2 / 3) and s["strict_recall"] == pytest.approx(1 / 3)
    assert s["precision"] == pytest.approx(3 / 5) and s["strict_precision"] == pytest.approx(1 / 3)
    assert s["f1"] == pytest.approx(2 * 0.6 * (2 / 3) / (0.6 + 2 / 3))


def test_scorer_refuses_what_is_not_an_alert(tmp_path: Path) -> None:
    bad = tmp_path / "alerts.jsonl"
    bad.write_text('{"dimension": "region"}\n')
    with pytest.raises(UsageError, match="not an alert"):
        read_alerts(bad)
    bad.write_text("{nope\n")
    with pytest.raises(UsageError, match="invalid JSON"):
        read_alerts(bad)


def test_v1_alert_names_count_only_when_asked() -> None:
    labels = {**LABELS, "incidents": [{"id": "d", "type": "drm_slow", "dimension": "device_class", "value": "tv",
                                        "start": 1000.0, "end": 2000.0}]}
    alerts = [_alert("device", "tv", 1000, 1200, 1200)]
    assert not score_day(alerts, labels).incidents[0].strict
    assert score_day(rename_dimensions(alerts, V1_ALIASES), labels).incidents[0].strict
