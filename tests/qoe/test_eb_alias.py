"""Aliases (issue 19): names the sessions cannot tell apart from a cause are named with it, and only those."""

from __future__ import annotations

from typing import Any

from streamlab.models.qoe.eb import EbDetector, EbSettings
from streamlab.models.qoe.schema_v2 import parse_event
from streamlab.training.qoe.world_v2 import START_EPOCH_S, steady_stream

T0 = START_EPOCH_S + 20 * 60
GROUPS = {"region": ["zz-north", "zz-south", "zz-east", "zz-west"], "isp": ["big-a", "big-b", "solo"]}


def _confine(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ISP ``solo`` serves ``zz-south`` only (as a national ISP serves its one region), beside the others there."""
    for e in events:
        if e["isp"] == "solo":
            e["region"] = "zz-south"
            e["edge"] = "zz-south-" + e["edge"].rsplit("-", 1)[1]
    return events


def _alerts(settings: EbSettings | None = None) -> list:
    def effect(t: float, d: dict[str, Any]) -> dict[str, float]:
        return {"crash": 0.3} if t >= T0 and d["isp"] == "solo" else {}

    det = EbDetector(settings)
    for raw in _confine(steady_stream(35, 60, seed=5, groups=GROUPS, effect=effect)):
        event, reason = parse_event(raw)
        assert reason is None, reason
        det.ingest(event)
    return det.flush()


def test_an_isp_confined_to_one_region_is_named_both_as_itself_and_as_its_pair() -> None:
    alerts = _alerts()
    named = {(a.dimension, a.value) for a in alerts}
    assert {("isp", "solo"), ("isp*region", "solo*zz-south")} <= named, named
    pair = next(a for a in alerts if a.dimension == "isp*region")
    single = next(a for a in alerts if a.dimension == "isp")
    assert pair.detected_at == single.detected_at
    assert "isp=solo" in {pair.evidence.get("alias_of"), *single.evidence.get("aliases", [])}


def test_a_region_that_holds_the_isp_and_more_is_no_alias() -> None:
    named = {(a.dimension, a.value) for a in _alerts()}
    assert ("region", "zz-south") not in named
    assert not {d for d, _ in named} & {"edge", "device_class", "title"}, named


def test_aliases_can_be_turned_off() -> None:
    named = {(a.dimension, a.value) for a in _alerts(EbSettings(alias_alerts=False))}
    assert len(named & {("isp", "solo"), ("isp*region", "solo*zz-south")}) == 1, named
