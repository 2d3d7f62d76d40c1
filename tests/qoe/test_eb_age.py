"""Levels by session age (issue 19): a flash crowd of young sessions is not a quality drop; a cap still is."""

from __future__ import annotations

from typing import Any

from streamlab.training.qoe.world_v2 import START_EPOCH_S, steady_stream
from tests.qoe.test_eb import _run

ONSET = START_EPOCH_S + 40 * 60
CLIMB = 0.3
"""A player's first minute plays at this share of its rung's bitrate (it starts low and climbs)."""


def _day(crowd: int, effect: Any = None) -> list[dict[str, Any]]:
    """40 sessions a minute over 20 titles for 50 minutes, and from ``ONSET`` ``crowd`` extra sessions a minute for 3
    minutes, all on title ``t5`` (a premiere's or a match's flash crowd). Every session's first minute is low."""
    events = steady_stream(50, 40, seed=21, effect=effect)
    if crowd:
        groups = {"region": ["r1", "r2", "r3", "r4"], "device_class": ["tv", "mobile", "desktop"], "title_id": ["t5"]}
        extra = steady_stream(3, crowd, seed=22, start_s=ONSET, groups=groups, effect=effect)
        for e in extra:
            e["session_id"] = "crowd-" + e["session_id"]
            e["viewer_id"] = "crowd-" + e["viewer_id"]
        events = sorted(events + extra, key=lambda e: e["timestamp"])
    for e in events:
        if e["kind"] == "heartbeat" and e["playhead_s"] < 60.0:
            e["bitrate_kbps"] = round(e["bitrate_kbps"] * CLIMB, 1)
    return events


def test_a_flash_crowd_of_young_sessions_on_a_title_with_settled_history_is_not_paged() -> None:
    """A title's history is mostly its settled sessions; a crowd joining at once is all in its first minute, so its
    level sits far below that history with nothing wrong. Judged for their age, the crowd's beats are normal. (An
    independent world's sports spike paged its channel on resolution in its first minute, cold.)"""
    _, alerts = _run(_day(crowd=60))
    assert not alerts, [(a.dimension, a.value, a.evidence) for a in alerts]


def test_a_cap_on_a_crowd_is_still_paged_as_soon_as_before() -> None:
    """The same crowd capped to a low rung from its first beat: young beats are judged against young beats, so the
    cap shows in them at once."""

    def cap(t: float, d: dict[str, Any]) -> dict[str, float]:
        return {"bitrate_kbps": 600.0} if t >= ONSET and d["title_id"] == "t5" else {}

    events = _day(crowd=60, effect=cap)
    _, alerts = _run(events)
    named = [a for a in alerts if (a.dimension, a.value) == ("title", "t5")]
    assert named, [(a.dimension, a.value) for a in alerts]
    assert named[0].detected_at - ONSET <= 120.0, named[0].detected_at - ONSET
