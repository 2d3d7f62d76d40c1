"""QoE beacons from the real page, captured at the network layer, validated against the telemetry schema."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from streamlab.models.qoe.telemetry import EVENT_ADAPTER, Heartbeat, SessionSummary
from streamlab.streaming.catalog_page.viewer_identity import ViewerSigner, load_or_create_secret
from tests.player.conftest import TITLE, free_port

pytestmark = pytest.mark.slow

CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "Content-Type"}


def test_beacons_follow_the_telemetry_schema(stack_for, browser, tmp_path) -> None:
    serving = f"http://127.0.0.1:{free_port()}"
    captured: list[list[dict]] = []

    def receive(route) -> None:
        if route.request.method == "POST":
            captured.append(json.loads(route.request.post_data or "null"))
        route.fulfill(status=200, headers=CORS, content_type="application/json", body='{"accepted": 1}')

    with stack_for(
        serving, "telemetry.region=eu-west", "telemetry.edge=edge-7", "telemetry.device=desktop-chrome"
    ) as stack:
        token = ViewerSigner(load_or_create_secret(tmp_path / "viewer.key"), 3600).issue("196")
        page = browser.new_page()
        page.route(f"{serving}/qoe/ingest", receive)
        try:
            page.goto(stack.edge_url + f"/?title={TITLE}&protocol=hls&autoplay=1&rate=4&viewer_token={token}")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and page.evaluate("() => window.streamlab.state") not in (
                "ended",
                "error",
            ):
                page.wait_for_timeout(200)
            page.wait_for_timeout(500)
            beacons = page.evaluate("() => JSON.parse(JSON.stringify(window.streamlab.beacons))")
        finally:
            page.close()

    assert captured and all(isinstance(batch, list) and batch for batch in captured)
    events = [
        EVENT_ADAPTER.validate_python(event) for batch in captured for event in batch
    ]  # strict: extra fields fail
    heartbeats = [e for e in events if isinstance(e, Heartbeat)]
    summaries = [e for e in events if isinstance(e, SessionSummary)]
    assert len(heartbeats) >= 3 and len(summaries) == 1
    assert {(e.viewer_id, e.title_id, e.region, e.edge, e.device) for e in events} == {
        ("196", TITLE, "eu-west", "edge-7", "desktop-chrome")
    }
    assert len({e.session_id for e in events}) == 1
    end = summaries[0]
    assert not end.playback_failed and end.startup_s is not None and end.play_s > 3
    assert 0 < end.avg_bitrate_kbps < 2000  # the ladder tops out at ~1.7 Mbit/s
    assert (
        end.started_at <= min(h.timestamp for h in heartbeats) <= max(h.timestamp for h in heartbeats) <= end.timestamp
    )
    assert max(h.rebuffer_count for h in heartbeats) <= end.rebuffer_count  # cumulative counters
    assert beacons["sent"] == len(events) and beacons["failed"] == 0


def test_beacons_are_accepted_by_the_qoe_service(stack_for, model_server, browser) -> None:
    def accepted() -> float:
        text = httpx.get(model_server + "/metrics", trust_env=False).text
        match = re.search(r'^streamlab_qoe_events_total{outcome="accepted"} (\S+)$', text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    before = accepted()
    with stack_for(model_server) as stack:
        page = browser.new_page()
        try:
            page.goto(stack.edge_url + f"/?title={TITLE}&protocol=hls&autoplay=1&rate=4")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and page.evaluate("() => window.streamlab.state") not in (
                "ended",
                "error",
            ):
                page.wait_for_timeout(200)
            page.wait_for_timeout(1000)  # the session_end answer
            beacons = page.evaluate("() => JSON.parse(JSON.stringify(window.streamlab.beacons))")
        finally:
            page.close()
    assert beacons["failed"] == 0 and beacons["lastStatus"] == 200, beacons
    assert beacons["sent"] >= 4 and beacons["ended"] == "session_end"
    assert accepted() - before == beacons["sent"]  # every event the page sent was valid to the service
