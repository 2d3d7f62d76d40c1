"""Rendition-keyed groups (``title*rendition``) and stalls (issue 19): the player's ABR picks the rendition *because*
the session stalls, so the lowest rung of any title collects its stalling sessions by construction."""

from __future__ import annotations

from typing import Any

import numpy as np

from streamlab.training.qoe.world_v2 import START_EPOCH_S, steady_stream
from tests.qoe.test_eb import _run

T0 = START_EPOCH_S + 20 * 60


def _abr_renditions(events: list[dict[str, Any]], premiere: str | None = None) -> list[dict[str, Any]]:
    """Each beat plays ``240p`` when its session stalled since the previous beat (the ABR stepped down), else
    ``1080p``. ``premiere``: every other session starting from ``T0`` on plays that new title (a flash crowd)."""
    last: dict[str, float] = {}
    first: dict[str, float] = {}
    for e in events:
        sid = e["session_id"]
        first.setdefault(sid, e["timestamp"])
        if premiere and first[sid] >= T0 and int(sid.rsplit("-", 1)[1]) % 2 == 0:
            e["title_id"] = premiere
        if e["kind"] == "heartbeat":
            e["rendition"] = "240p" if e["rebuffer_s"] > last.get(sid, 0.0) else "1080p"
            last[sid] = e["rebuffer_s"]
    return events


def test_a_premieres_lowest_rung_collecting_its_stalls_is_not_an_incident() -> None:
    """A decoy: a new title's sessions stall at the usual rate; its 240p rendition holds the stalled beats as every
    title's does, but has no history of its own to say so."""
    alerts = _run(_abr_renditions(steady_stream(35, 60, seed=9), premiere="t-premiere"))[1]
    assert [(a.dimension, a.value, a.evidence["metric"]) for a in alerts if a.dimension == "title*rendition"] == []


def test_a_broken_rendition_still_pages_on_its_failures() -> None:
    """Failures are the encode's own: a rendition-keyed group is still judged on them (the title's TV sessions play
    the broken 1080p encode, the rest 720p)."""
    def rung(d: dict[str, Any]) -> str:
        return "1080p" if d["device_class"] == "tv" else "720p"

    def crash(t: float, d: dict[str, Any]) -> dict[str, float]:
        return {"crash": 0.3} if t >= T0 and d["title_id"] == "t3" and rung(d) == "1080p" else {}

    groups = {"region": ["r1", "r2", "r3", "r4"], "device_class": ["tv", "mobile", "desktop"],
              "title_id": [f"t{i}" for i in range(6)]}
    events = steady_stream(35, 60, seed=10, effect=crash, groups=groups)
    for e in events:
        if e["kind"] == "heartbeat":
            e["rendition"] = rung(e)
    named = {(a.dimension, a.value) for a in _run(events)[1]}
    assert ("title*rendition", "t3*1080p") in named, named


def test_a_corrupt_rung_named_first_as_its_title_is_named_once_its_own_evidence_holds() -> None:
    """Sessions of t3 switch between 720p and 1080p every beat; the 1080p rung is corrupt, so a session fails on a
    1080p fetch, and three in ten of them had not yet reported the switch (their last beat says 720p), as players
    report. The title clears the bar first; its open alert explained every later window, so the rung was never
    named (a corrupt rendition named only as its title on 4 of 6 held-out days of the independent world). The
    failures the rest of the title shows are the rung's spill-over, so :meth:`EbDetector._refine` names the rung."""
    rng = np.random.default_rng(10)
    groups = {"region": ["r1", "r2", "r3", "r4"], "device_class": ["tv", "mobile", "desktop"],
              "title_id": [f"t{i}" for i in range(6)]}
    events = steady_stream(40, 60, seed=10, groups=groups,
                           effect=lambda t, d: {"crash": 0.1} if t >= T0 and d["title_id"] == "t3" else {})
    last_beat: dict[str, dict[str, Any]] = {}
    for e in events:
        if e["kind"] == "heartbeat":
            e["rendition"] = "1080p" if rng.uniform() < 0.5 else "720p"
            last_beat[e["session_id"]] = e
    for e in events:
        if e["kind"] == "session_end" and e.get("outcome") == "video_playback_failure" and e["title_id"] == "t3" \
                and e["timestamp"] >= T0 and e["session_id"] in last_beat:
            last_beat[e["session_id"]]["rendition"] = "720p" if rng.uniform() < 0.3 else "1080p"
    alerts = _run(events)[1]
    named = [(a.dimension, a.value) for a in alerts]
    assert named[0] == ("title", "t3") and ("title*rendition", "t3*1080p") in named, named
    assert all(a.start >= T0 for a in alerts) and ("title*rendition", "t3*720p") not in named, named
