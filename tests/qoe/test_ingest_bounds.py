"""Issue 20, findings 2 and 3: the streaming detector's work and memory per event are bounded, and its clock
cannot be moved by one beacon (the committed detector, real events, no server)."""

from __future__ import annotations

import time

import pytest

from streamlab.models.qoe.model import QoeModel
from streamlab.models.qoe.settings import StreamLimits
from streamlab.models.qoe.streaming import StreamingDetector
from streamlab.models.qoe.weights import default_dir

T0 = 1_767_600_000.0
"""Event time of the normal stream (2026-01-05, like the simulator's days)."""


@pytest.fixture(scope="module")
def model() -> QoeModel:
    return QoeModel.load(default_dir())


def beat(session: int, timestamp: float, **dims: str) -> dict:
    """One valid heartbeat from a small, fixed population (the groups the committed detector knows)."""
    return {
        "kind": "heartbeat", "viewer_id": f"v{session}", "session_id": f"s{session}", "timestamp": timestamp,
        "title_id": dims.get("title_id", f"t00{session % 4}"), "device": dims.get("device", "tv"),
        "region": dims.get("region", "eu-west"), "edge": dims.get("edge", f"eu-west-{session % 3 + 1}"),
        "playhead_s": 30.0, "buffer_s": 12.0, "bitrate_kbps": 1800.0, "throughput_kbps": 5000.0, "startup_s": 1.2,
    }  # fmt: skip


def normal_windows(first: int, count: int, window_s: float = 30.0) -> list[dict]:
    """Twelve sessions beating every 10 s through windows ``first .. first + count - 1`` after ``T0``."""
    return [beat(s, T0 + (first + w) * window_s + k * 10.0) for w in range(count) for k in range(3) for s in range(12)]


def unique_batch(start: int, size: int, timestamp: float) -> list[dict]:
    """``size`` heartbeats, each with its own title, edge, region, device and session: four new groups per event."""
    return [beat(10_000 + n, timestamp, title_id=f"ut{n}", edge=f"ue{n}", region=f"ur{n}", device=f"ud{n}")
            for n in range(start, start + size)]  # fmt: skip


def test_a_far_future_beacon_is_refused_naming_the_timestamp_and_windows_keep_closing(model) -> None:
    detector = StreamingDetector(model, now=lambda: T0 + 600.0)
    detector.ingest(normal_windows(0, 3))
    scores, _ = detector.ingest([beat(1, 1e12)])
    assert not scores[0].accepted and "timestamp" in scores[0].reason
    closed = detector.windows_closed
    detector.ingest(normal_windows(3, 20))
    assert detector.windows_closed - closed >= 19
    assert detector.stats()["refused_future"] == 1


def test_one_beacon_far_ahead_of_the_stream_cannot_move_the_detector_clock(model) -> None:
    """A file replay has no wall clock: a beacon a day ahead of everyone else is refused, the rest keep closing windows."""
    detector = StreamingDetector(model)
    detector.ingest(normal_windows(0, 3))
    scores, _ = detector.ingest([beat(1, T0 + 86_400.0)])
    assert not scores[0].accepted and "timestamp" in scores[0].reason
    closed = detector.windows_closed
    detector.ingest(normal_windows(3, 20))
    assert detector.windows_closed - closed >= 19


def test_a_stream_that_moves_as_a_whole_still_moves_the_clock(model) -> None:
    """The other side of the guard: when most beacons jump (a restart after a quiet day), every one is scored."""
    detector = StreamingDetector(model)
    detector.ingest(normal_windows(0, 3))
    scores, _ = detector.ingest(normal_windows(2880, 3))
    assert all(s.accepted for s in scores)
    closed = detector.windows_closed
    detector.ingest(normal_windows(2883, 5))
    assert detector.windows_closed - closed >= 5


def test_with_a_wall_clock_the_first_beacon_after_a_quiet_spell_moves_a_stale_clock(model) -> None:
    """Live traffic after an hour of silence: the wall clock vouches for the beacon, no quorum needed."""
    later = T0 + 3_600.0
    detector = StreamingDetector(model, now=lambda: later + 5.0)
    detector.ingest(normal_windows(0, 3))
    scores, _ = detector.ingest([beat(1, later)])
    assert scores[0].accepted and detector.current == int(later // 30.0)


def test_a_beacon_alone_at_the_start_cannot_hold_the_clock_far_ahead(model) -> None:
    """If the first beacon a detector sees is the odd one out, the stream that follows takes the clock back."""
    detector = StreamingDetector(model)
    detector.ingest([beat(1, T0 + 86_400.0)])
    detector.ingest(normal_windows(0, 20))
    assert detector.windows_closed >= 15


def test_unique_group_ids_keep_state_bounded_and_evictions_counted(model) -> None:
    """Three batches of 2,000 events with new ids each: per-group state stays under the cap and the batches do not slow down."""
    limits = StreamLimits(max_groups=1_000, max_sessions=1_000, max_units_per_window=1_500)
    detector = StreamingDetector(model, limits=limits)
    detector.ingest(normal_windows(0, 2))
    took = []
    for b in range(3):
        started = time.perf_counter()
        scores, _ = detector.ingest(unique_batch(b * 2_000, 2_000, T0 + 75.0 + b))
        took.append(time.perf_counter() - started)
        assert all(s.accepted for s in scores)
    stats = detector.stats()
    assert stats["groups"] <= len(model.baselines.groups) + 1_000
    assert stats["groups_evicted"] >= 3 * 2_000 * 4 - 1_000
    assert stats["sessions"] <= 1_000 and stats["sessions_evicted"] > 0
    assert stats["units_dropped"] > 0
    assert max(took) < 5.0, took
    assert took[2] < 3 * took[0] + 0.5, took


def test_idle_groups_are_evicted_as_windows_close(model) -> None:
    detector = StreamingDetector(model, limits=StreamLimits(group_idle_windows=5))
    detector.ingest(unique_batch(0, 50, T0))
    before = detector.stats()["groups"]
    detector.ingest(normal_windows(1, 10))
    after = detector.stats()
    assert after["groups"] <= before - 200 and after["groups_evicted"] >= 200
