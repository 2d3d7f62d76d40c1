"""Confirmation across a lane's own interval (issue 19): a cause only the slow lane sees must page in minutes.

The slow lane is scored every ``slow_every`` windows, so it can name a cause at most that often; counting a run of
namings only over consecutive windows left such a cause unconfirmed until its score alone reached the instant bar
(20+ minutes on the independent world's mid-stream crash of one device model).
"""

from __future__ import annotations

import pytest

from streamlab.models.qoe.alerts import AlertTracker, Cause
from streamlab.models.qoe.eb import EbDetector, EbSettings
from streamlab.models.qoe.schema_v2 import parse_event
from streamlab.training.qoe.world_v2 import START_EPOCH_S, steady_stream

T0 = START_EPOCH_S + 30 * 60


def _tracker() -> AlertTracker:
    return AlertTracker(30.0, 12.0, "eb", confirm_windows=2, close_after_windows=4, instant_ratio=2.5)


def test_a_cause_named_at_its_lanes_interval_confirms_on_the_second_naming() -> None:
    tracker = _tracker()
    assert tracker.feed(10, [Cause(10, "device_model", "m7", 16.0, {}, every=2)]) == []
    assert tracker.feed(11, []) == []
    opened = tracker.feed(12, [Cause(12, "device_model", "m7", 16.0, {}, every=2)])
    assert [(a.dimension, a.value, a.detected_at) for a in opened] == [("device_model", "m7", 13 * 30.0)]


def test_a_fast_lane_cause_with_a_gap_still_needs_consecutive_windows() -> None:
    tracker = _tracker()
    tracker.feed(10, [Cause(10, "region", "r1", 13.0, {})])
    tracker.feed(11, [])
    assert tracker.feed(12, [Cause(12, "region", "r1", 13.0, {})]) == []
    assert [a.value for a in tracker.feed(13, [Cause(13, "region", "r1", 13.0, {})])] == ["r1"]


def test_a_gap_longer_than_the_lane_interval_restarts_the_run() -> None:
    tracker = _tracker()
    tracker.feed(10, [Cause(10, "device_model", "m7", 16.0, {}, every=2)])
    assert tracker.feed(13, [Cause(13, "device_model", "m7", 16.0, {}, every=2)]) == []


@pytest.mark.parametrize("slow_every", [1, 2])
def test_a_crash_only_the_slow_lane_sees_pages_within_two_slow_scorings(slow_every: int) -> None:
    """One device model of 30 crashes mid-stream: under one failure a minute, never 3 in the fast lane's minute."""
    models = [f"m{i}" for i in range(30)]

    def effect(t: float, dims: dict) -> dict:
        return {"crash": 0.1} if t >= T0 and dims["device_model"] == "m7" else {}

    events = steady_stream(60, 20, seed=12, groups={"region": ["r1", "r2", "r3"], "device_model": models}, effect=effect)
    s = EbSettings(slow_every=slow_every)
    det = EbDetector(s)
    slow_named: list[int] = []
    feed = det.tracker.feed

    def spy(window: int, causes: list[Cause]) -> list:
        slow_named.extend(window for c in causes if (c.dimension, c.value) == ("device_model", "m7")
                          and c.evidence.get("lane") == "slow")
        return feed(window, causes)

    det.tracker.feed = spy  # type: ignore[method-assign]
    for raw in events:
        event, reason = parse_event(raw)
        assert reason is None, reason
        det.ingest(event)
    alerts = [a for a in det.flush() if (a.dimension, a.value) == ("device_model", "m7")]
    assert slow_named, "the slow lane never named the crash: the scenario no longer tests the slow lane"
    assert alerts, "the crash never paged"
    first_slow_end = (slow_named[0] + 1) * s.window_s
    assert alerts[0].detected_at <= first_slow_end + s.slow_every * s.window_s, (slow_named, alerts[0].detected_at - T0)


def test_a_collapse_hidden_in_the_spread_between_sessions_pages_within_a_window() -> None:
    """One ISP's throughput collapses while its sessions' bitrates spread over two decades (device models 300 kbps to
    19 Mbps): its mean level sinks into that spread, but every session playing falls at once."""
    models = [f"m{i}" for i in range(24)]
    level = {m: 300.0 * 1.2 ** i for i, m in enumerate(models)}

    def effect(t: float, dims: dict) -> dict:
        return {"bitrate_kbps": level[dims["device_model"]] * (0.12 if t >= T0 and dims["isp"] == "i3" else 1.0)}

    groups = {"region": ["r1", "r2"], "isp": [f"i{i}" for i in range(12)], "device_model": models}
    events = steady_stream(45, 20, seed=3, groups=groups, effect=effect, session_min=8)
    det = EbDetector(EbSettings())
    for raw in events:
        event, reason = parse_event(raw)
        assert reason is None, reason
        det.ingest(event)
    alerts = det.flush()
    assert alerts and (alerts[0].dimension, alerts[0].value) == ("isp", "i3"), [(a.dimension, a.value) for a in alerts]
    assert alerts[0].detected_at - T0 <= 60.0, alerts[0].detected_at - T0
    assert all(a.start >= T0 - 60 for a in alerts), "an alert before the collapse"


def test_a_session_s_bitrate_changes_count_only_once_it_has_settled() -> None:
    """The first minute of a session is its player climbing to its rung, not a change (a premiere starts them all)."""
    from streamlab.models.qoe.eb import C, SETTLED_PLAYHEAD_S, SessionMemory

    mem = SessionMemory(16)
    beat = {"schema_version": 2, "kind": "heartbeat", "viewer_id": "v", "session_id": "s", "title_id": "t", "region": "r",
            "edge": "e", "device_class": "tv", "buffer_s": 5.0, "startup_s": 1.0, "rebuffer_count": 0, "rebuffer_s": 0.0}
    rows = [mem.unit(parse_event({**beat, "timestamp": 1.0e9 + p, "playhead_s": float(p), "bitrate_kbps": br})[0])
            for p, br in ((0, 8000.0), (20, 2000.0), (SETTLED_PLAYHEAD_S, 2000.0), (SETTLED_PLAYHEAD_S + 20, 500.0))]
    assert [r[C["dbr_n"]] for r in rows] == [0.0, 0.0, 1.0, 1.0]
    assert rows[3][C["dbr_s"]] < -1.3  # log(500 / 2000)


def _playback_failure_score(beats: float, failures: float, base_rate: float = 0.0005, clustering: float = 30.0) -> float:
    import numpy as np

    from streamlab.models.qoe.eb import C, COLUMNS, METRICS, EbPrior, score_matrix

    counts = np.zeros((1, len(COLUMNS)))
    counts[0, C["beats"]], counts[0, C["vpf"]] = beats, failures
    base = np.zeros((1, len(COLUMNS)))
    base[0, C["beats"]] = 200_000.0
    base[0, C["vpf"]] = 200_000.0 * base_rate
    surprise, _ = score_matrix(counts, base, 200.0, base[0] * 10, EbPrior(), EbSettings(), clustering)
    return float(surprise[0, METRICS.index("playback_failure")])


def test_mid_stream_failures_are_judged_per_session_against_a_per_session_baseline() -> None:
    """Over a 10-minute span (30 beats a session) a session fails 30 times as often as a beat: 5 failures in 2,400
    beats on a CDN with 0.05% per beat is 80 sessions expecting 1.2, not a 100-fold rise (a false page a day before)."""
    s = EbSettings()
    assert _playback_failure_score(2400, 5) < s.slow_threshold / 2
    assert _playback_failure_score(160, 5) > s.slow_threshold  # a device model crashing: 5 failures where 0.08 expected
