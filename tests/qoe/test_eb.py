"""The empirical-Bayes detector (issue 19): names it never saw, pairs, quality-only drops, deltas, bounds."""

from __future__ import annotations

import pytest

from streamlab.models.qoe.eb import EbDetector, EbSettings, SessionMemory
from streamlab.models.qoe.schema_v2 import parse_event
from streamlab.training.qoe.world_v2 import START_EPOCH_S, steady_stream

T0 = START_EPOCH_S + 20 * 60  # incidents start 20 minutes into a stream


def _run(events, settings: EbSettings | None = None) -> tuple[EbDetector, list]:
    det = EbDetector(settings)
    for raw in events:
        event, reason = parse_event(raw)
        assert reason is None, reason
        det.ingest(event)
    return det, det.flush()


@pytest.mark.parametrize(("kind", "scope", "effect", "metric"), [
    ("quality-only drop", ("region", "zz-south"), lambda t, d: {"bitrate_kbps": 1200.0} if t >= T0 and d["region"] == "zz-south" else {}, "bitrate"),
    ("mid-stream crash", ("device_class", "fridge"), lambda t, d: {"crash": 0.3} if t >= T0 and d["device_class"] == "fridge" else {}, "playback_failure"),
    ("start crash on one app version of one device", ("device_class*app_version", "fridge*9.9"),
     lambda t, d: {"start_failure": 0.5} if t >= T0 and (d["device_class"], d["app_version"]) == ("fridge", "9.9") else {}, "start_failure"),
])
def test_an_incident_on_names_never_seen_is_named_within_two_minutes(kind, scope, effect, metric) -> None:
    groups = {"region": ["zz-north", "zz-south", "zz-east", "zz-west"], "device_class": ["fridge", "car", "watch"],
              "app_version": ["9.8", "9.9"]}
    events = steady_stream(35, 60, seed=3, groups=groups, effect=effect)
    _, alerts = _run(events)
    named = [a for a in alerts if (a.dimension, a.value) == scope]
    assert named, f"{kind}: {[(a.dimension, a.value) for a in alerts]}"
    assert named[0].evidence["metric"] == metric
    assert named[0].detected_at - T0 <= 120.0
    assert all((a.dimension, a.value) == scope or a.start >= T0 - 60 for a in alerts), "an alert before the incident"
    assert len(alerts) <= 2, [(a.dimension, a.value) for a in alerts]


def test_a_quiet_stream_raises_nothing() -> None:
    _, alerts = _run(steady_stream(40, 60, seed=4))
    assert alerts == []


def test_a_stream_that_starts_mid_session_counts_no_burst() -> None:
    """Sessions already playing with many stalls: their first beat is a baseline, not a stall or a start."""
    mem = SessionMemory(100)
    beat = {"schema_version": 2, "kind": "heartbeat", "timestamp": 1.0e9, "viewer_id": "v", "session_id": "s", "title_id": "t",
            "region": "r", "edge": "e", "device_class": "tv", "playhead_s": 1800.0, "buffer_s": 5.0, "bitrate_kbps": 3000.0,
            "startup_s": 9.0, "rebuffer_count": 40, "rebuffer_s": 200.0, "errors": 7}
    first = mem.unit(parse_event(beat)[0])
    assert first is not None and sum(first[:9]) == 1.0  # one beat, no start, stall, slow start or error
    later = mem.unit(parse_event({**beat, "timestamp": 1.0e9 + 20, "rebuffer_count": 41, "rebuffer_s": 202.0})[0])
    assert later[7] == 1.0  # the stall that happened while we watched counts


def test_duplicates_future_and_past_beacons_are_refused_and_counted() -> None:
    events = steady_stream(5, 30, seed=5)
    det, _ = _run(events[:200])
    first, _ = parse_event(events[100])
    assert det.ingest(first)[0].startswith("duplicate")
    future, _ = parse_event({**events[300], "timestamp": 1.0e12})
    assert det.ingest(future)[0].startswith("future timestamp")
    past, _ = parse_event({**events[300], "timestamp": 1000.0, "seq": 999})
    assert det.ingest(past)[0].startswith("past timestamp")
    stats = det.stats()
    assert (stats["duplicate"], stats["future timestamp"], stats["past timestamp"]) == (1, 1, 1)
    assert stats["accepted"] == 200


def test_state_is_bounded_whatever_the_number_of_titles() -> None:
    settings = EbSettings(max_groups=500, max_sessions=300, max_dedup=1000)
    det = EbDetector(settings)
    base = {"schema_version": 2, "kind": "heartbeat", "viewer_id": "v", "region": "r", "edge": "e", "device_class": "tv",
            "playhead_s": 0.0, "buffer_s": 5.0, "bitrate_kbps": 3000.0, "startup_s": 1.0}
    for i in range(20_000):
        event, _ = parse_event({**base, "timestamp": START_EPOCH_S + i * 0.05, "session_id": f"s{i}", "title_id": f"t{i}"})
        assert det.ingest(event)[0] is None
    det.flush()
    stats = det.stats()
    assert stats["groups"] <= 500 and stats["groups_evicted"] > 0
    assert stats["sessions"] <= 300 and stats["sessions_evicted"] > 0
    assert stats["dedup_keys"] <= 1000 and stats["dedup_forgotten"] > 0


def _one_bad_session(title: str, beat_s: float = 2.0, minutes: float = 4.0) -> list[dict]:
    """One session of a title nobody else watches, on a fast-beating player, stalling at every beat."""
    t0 = T0
    base = {"schema_version": 2, "viewer_id": "v-bad", "session_id": "s-bad", "title_id": title, "region": "r1",
            "edge": "r1-e1", "device_class": "tv"}
    beats = int(minutes * 60 / beat_s)
    return [{**base, "kind": "heartbeat", "seq": b, "timestamp": t0 + beat_s * b, "playhead_s": beat_s * b, "buffer_s": 0.0,
             "bitrate_kbps": 4000.0, "startup_s": 1.0, "rebuffer_count": b + 1, "rebuffer_s": 1.5 * (b + 1)}
            for b in range(beats)]


def test_one_bad_session_beating_fast_is_not_an_incident() -> None:
    """A decoy: its stalls are one piece of evidence (one session), however often its player beats."""
    events = sorted(steady_stream(35, 40, seed=6) + _one_bad_session("t-lonely"), key=lambda e: e["timestamp"])
    _, alerts = _run(events)
    assert alerts == [], [(a.dimension, a.value, a.evidence) for a in alerts]


def test_many_stalling_sessions_of_one_title_still_page() -> None:
    """The same stalls spread over many sessions of one title are an incident (the rule counts sessions, not beats)."""
    stall = lambda t, d: {"stall": 0.6} if t >= T0 and d["title_id"] == "t3" else {}  # noqa: E731
    _, alerts = _run(steady_stream(35, 60, seed=7, effect=stall))
    assert ("title", "t3") in {(a.dimension, a.value) for a in alerts}, [(a.dimension, a.value) for a in alerts]


def test_a_group_that_always_differs_is_its_own_baseline_not_an_incident() -> None:
    """A decoy: 4G always plays at a third of the bitrate of wifi; it must learn that, not page from the first window."""
    always_lower = lambda t, d: {"bitrate_kbps": 1300.0} if d["connection_type"] == "4g" else {}  # noqa: E731
    groups = {"region": ["r1", "r2", "r3", "r4"], "device_class": ["tv", "mobile", "desktop"],
              "connection_type": ["wifi", "ethernet", "4g"]}
    _, alerts = _run(steady_stream(40, 60, seed=8, groups=groups, effect=always_lower))
    assert alerts == [], [(a.dimension, a.value, a.evidence) for a in alerts]


def test_the_class_defaults_are_the_shipped_config() -> None:
    """Tests, the kill-and-restart reference and notebooks build ``EbDetector()``; the CLI, the stream consumer, the
    bench and the first world's evaluation read ``configs/qoe.yaml``. A knob tuned in one and not the other would make
    every test judge a detector nobody runs (the evaluation and the bench once ran the class defaults)."""
    from streamlab.models.qoe.settings import load_settings

    shipped, defaults = load_settings().eb.model_dump(), EbSettings().model_dump()
    assert {k: (v, defaults[k]) for k, v in shipped.items() if v != defaults[k]} == {}
