"""Rendition-keyed groups (``title*rendition``) and stalls (issue 19): the player's ABR picks the rendition *because*
the session stalls, so the lowest rung of any title collects its stalling sessions by construction."""

from __future__ import annotations

from typing import Any

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
