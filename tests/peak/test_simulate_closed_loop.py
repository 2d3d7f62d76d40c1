"""The scaling model's viewers are a closed loop, as the load generator's are (issue 14's validation).

An open-loop model (every viewer asks for the playlist and the part every part, whatever the edge
does) predicts a queue without bound once the edge's work per part passes the part's length; the
measured Python edge at 1,000 viewers ran at 0.95 of its core with a bounded delivery, because its
viewers fell behind the live edge, fetched parts already written (one request instead of two) and
the few that waited at the live edge were answered first when the part came.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from streamlab.pipelines.peak.settings import SimulateSettings
from streamlab.pipelines.peak.simulate import EventLoop, PriorityServer, Scenario, TierCosts, link_time, simulate, validate

SATURATED = TierCosts(edge_ms=0.25, shield_ms=0.25, origin_ms=0.6)  # the measured Python edge's cost
LINKED = replace(SATURATED, link_ms=(34.0,) * 101, late_share=0.07, late_link_ms=1000.0)
"""With the viewers' links as the measured runs had them (34 ms a part, 7 % of parts crossing in a
second: :func:`calibrate_links` on the 100-viewer run): a closed loop without any time between
answer and next request keeps every viewer's request in every turn of the event loop."""


def test_an_edge_past_two_requests_a_part_sheds_playlist_requests_and_stays_bounded() -> None:
    # 1,000 viewers x 2 requests x 0.25 ms = 500 ms of work per 333 ms part; one request a part is 250 ms
    p = simulate(Scenario(1_000, 1, 1, shared_core=True), LINKED, 24, 5_000)
    assert p.part_delivery_p99_ms < 1_000  # an open-loop queue grows ~170 ms a part: seconds by part 24
    assert not p.overloaded
    assert 1.0 < p.requests_per_viewer_per_part < 1.7  # measured: 1.28 (with the ramp), 1.42 without
    assert 0 < p.viewers_at_live_edge < 0.6


def test_an_edge_under_its_capacity_keeps_every_viewer_at_the_live_edge() -> None:
    p = simulate(Scenario(200, 1, 1), SATURATED, 12, 5_000)
    assert p.viewers_at_live_edge == 1.0 and p.requests_per_viewer_per_part == 2.0


def test_waiting_requests_are_answered_before_the_backlog() -> None:
    loop, done = EventLoop(), dict[str, float]()
    server = PriorityServer(loop)

    def mark(name: str) -> Callable[[float], None]:
        return lambda at: done.__setitem__(name, at)
    server.submit(0.0, 1.0, mark("running"))
    server.submit(0.0, 1.0, mark("backlog"))
    loop.at(0.5, lambda now: server.submit(now, 1.0, mark("woken"), first=True))
    loop.run()
    assert done == {"running": 1.0, "woken": 2.0, "backlog": 3.0}


def test_the_link_time_is_the_shaped_delivery_minus_the_systems() -> None:
    link = link_time({"part_delivery_p50_ms": 60.0, "part_delivery_shaped_p50_ms": 80.0,
                      "part_delivery_p99_ms": 130.0, "part_delivery_shaped_p99_ms": 200.0})
    assert len(link) == 101 and link[0] == 0.0 and link[50] == 20.0 and link[99] == 70.0
    assert link_time({"part_delivery_p50_ms": 60.0, "part_delivery_p99_ms": 90.0}) == ()


def test_validation_compares_the_regime_as_well_as_the_quantiles() -> None:
    run = {"engine": "python", "edges": 1, "shields": 1, "rungs_watched": 3, "part_s": 1 / 3, "duration_s": 60.0,
           "cost_ms_per_request": {"edge": 0.25, "shield": 0.25, "origin": 0.5},
           "origin_media_requests_per_part_per_shield": 1.0}
    small = run | {"viewers": 100, "part_delivery_p50_ms": 45.0, "part_delivery_p99_ms": 120.0,
                   "part_delivery_quantiles_ms": [20.0 + q for q in range(101)], "part_deliveries": 15_000, "requests": 36_000}
    large = run | {"viewers": 1_000, "part_delivery_p50_ms": 140.0, "part_delivery_p99_ms": 340.0,
                   "part_deliveries": 8_000, "requests": 250_000}
    rows = validate([large, small], SimulateSettings(parts=12))
    assert [r["viewers"] for r in rows] == [100, 1_000] and [r["calibration_run"] for r in rows] == [True, False]
    assert rows[0]["measured_at_live_edge"] == 0.833 and rows[1]["measured_requests_per_viewer_per_part"] == 1.389
    assert rows[1]["predicted_requests_per_viewer_per_part"] < 1.7 and rows[1]["predicted_p99_ms"] < 1_000
