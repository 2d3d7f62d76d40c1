"""Live latency (issue 19): a channel-wide jump is found among sessions whose latencies differ by minutes.

Why these streams: a live player's latency grows by every stall it has had, and players join at different
distances from the live edge (low-latency, standard, DVR-like), so sessions of one channel sit anywhere from a few
seconds to minutes behind. An upstream delay (encoder, packager, origin) adds the same seconds to every session of
the channel at once; a level test of mean log latency drowns that in the spread between a handful of sessions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from streamlab.training.qoe.world_v2 import START_EPOCH_S, steady_stream
from tests.qoe.test_eb import _run

T0 = START_EPOCH_S + 20 * 60
LIVE = ("ch-a", "ch-b")
TITLES = [*LIVE, *(f"v{i}" for i in range(14))]  # a channel carries 1/16 of the sessions: a handful at a time


def _live_stream(seed: int, delay: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """``steady_stream`` with two live channels: join latency lognormal around 10 s (sigma 1), +1 s per stalled second.

    ``delay``: ``{"title": ..., "add_s": ..., "from": t}`` adds ``add_s`` seconds to every beat of that channel from
    ``t`` on (sessions playing then jump at once, later ones join behind). ``{"session": ..., "add_s": ..., "from":
    t}`` instead moves one session (a viewer seeking back in the DVR window).
    """
    rng = np.random.default_rng(seed + 100)
    events = steady_stream(35, 30, seed=seed, groups={"region": ["r1", "r2", "r3", "r4"], "device_class": ["tv", "mobile"],
                                                      "title_id": TITLES}, session_min=10)
    join: dict[str, float] = {}
    for e in events:
        if e["title_id"] not in LIVE:
            continue
        e["content_type"] = "live"
        if e["kind"] != "heartbeat":
            continue
        sid = e["session_id"]
        if sid not in join:
            join[sid] = float(rng.lognormal(math.log(10.0), 1.0))
            group = delay.get("group") if delay else None
            if group and e[group[0]] == group[1] and e["timestamp"] >= delay["from"] and rng.uniform() < 0.5:
                join[sid] += delay["behind_s"]
        lat = join[sid] + e["rebuffer_s"] + float(rng.normal(0.0, 0.3))
        if delay and e["timestamp"] >= delay["from"] and (e["title_id"] == delay.get("title") or sid == delay.get("session")):
            lat += delay["add_s"]
        e["live_latency_s"] = round(max(lat, 0.5), 2)
    return events


def test_a_channel_wide_latency_jump_is_named_within_two_minutes() -> None:
    alerts = _run(_live_stream(1, {"title": "ch-b", "add_s": 30.0, "from": T0}))[1]
    named = [a for a in alerts if (a.dimension, a.value) == ("title", "ch-b")]
    assert named, [(a.dimension, a.value, a.evidence) for a in alerts]
    assert 0.0 <= named[0].detected_at - T0 <= 120.0
    assert all(a.start >= T0 - 60 for a in alerts), [(a.dimension, a.value, a.start - T0) for a in alerts]


def _latency_alerts(alerts: list) -> list:
    """Alerts on a latency metric or naming a channel (other metrics' decoys are their own tests' business)."""
    return [(a.dimension, a.value, a.evidence) for a in alerts if "latency" in a.evidence["metric"] or a.value in LIVE]


def test_latency_of_a_quiet_live_stream_raises_nothing() -> None:
    assert _latency_alerts(_run(_live_stream(2))[1]) == []


def test_one_viewer_seeking_back_is_not_an_incident() -> None:
    """A decoy: one session's latency jumps by ten minutes without a stall (a seek back in the DVR window)."""
    events = _live_stream(3)
    sid = next(e["session_id"] for e in events if e["title_id"] == "ch-a" and e["kind"] == "heartbeat"
               and T0 - 200 < e["timestamp"] < T0 - 60 and e["seq"] == 2)
    assert _latency_alerts(_run(_live_stream(3, {"session": sid, "add_s": 600.0, "from": T0 - 60}))[1]) == []


def test_viewers_starting_a_programme_from_its_beginning_are_not_an_incident() -> None:
    """A decoy: the latency level is the spread between a handful of sessions (join position, every stall since);
    half the TV viewers starting over five minutes behind live changed nothing for anyone's playback."""
    alerts = _run(_live_stream(4, {"group": ("device_class", "tv"), "behind_s": 300.0, "from": T0}))[1]
    assert _latency_alerts(alerts) == []
