"""``/ladder``, ``/qoe/ingest``, ``/qoe/alerts`` and CORS over real HTTP, models from an isolated registry."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.slow

FEATURES = {
    "width": 1280, "height": 720, "fps": 24.0, "si_mean": 60.0, "si_p90": 75.0, "ti_mean": 12.0, "ti_p90": 20.0,
    "probe_bpp": 0.05, "probe_psnr_y": 41.0, "probe_qp_p": 28.0, "probe_ip_ratio": 5.0,
}  # fmt: skip
HEARTBEAT = {
    "kind": "heartbeat", "viewer_id": "v1", "session_id": "s1", "title_id": "t1", "timestamp": 1_000_000.0,
    "device": "web", "region": "eu", "edge": "e1", "playhead_s": 4.0, "buffer_s": 8.0, "bitrate_kbps": 1500.0,
    "throughput_kbps": 4000.0,
}  # fmt: skip


@pytest.fixture(scope="module")
def client(model_server):
    with httpx.Client(base_url=model_server.url, trust_env=False, timeout=60) as http:
        yield http


def test_ladder_from_features_has_both_codecs_and_the_model_version(client, models_store) -> None:
    answer = client.post("/ladder", json={"features": FEATURES})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["source"] == "features" and body["model_version"] == models_store["ladder"]
    assert {r["codec"] for r in body["rungs"]} == {"h264", "av1"}
    for rung in body["rungs"]:
        assert rung["width"] <= 1280 and rung["bitrate_kbps"] > 0 and 0 < rung["expected_vmaf"] <= 100
        assert rung["encoder"]["rate_control"] == "capped_crf" and rung["encoder"]["crf"] is not None


def test_ladder_from_a_path_under_the_raw_data(client) -> None:
    body = client.post("/ladder", json={"path": "data/raw/videos/carphone_pristine.mp4", "codecs": ["h264"]}).json()
    assert body["source"] == "path" and body["features"]["height"] == 144
    assert [r["codec"] for r in body["rungs"]] == ["h264"] * len(body["rungs"])


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("../../etc/passwd", "outside the allowed roots"),
        ("/etc/passwd", "outside the allowed roots"),
        ("data/raw/videos/missing.mp4", "does not exist"),
        ("data/raw/ml-100k/ml-100k.item", "cannot be read"),
    ],
)
def test_ladder_refuses_a_bad_path_with_the_reason(client, path: str, needle: str) -> None:
    answer = client.post("/ladder", json={"path": path})
    assert answer.status_code == 400 and needle in answer.text


def test_qoe_ingest_scores_valid_events_and_rejects_invalid_ones_with_reasons(client) -> None:
    events = [HEARTBEAT, {**HEARTBEAT, "buffer_s": -3}, {"kind": "telepathy"}, 42]
    answer = client.post("/qoe/ingest", json=events)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [s["accepted"] for s in body["scores"]] == [True, False, False, False]
    assert body["accepted"] == 1 and body["rejected"] == 3
    assert "buffer_s" in body["scores"][1]["reason"] and body["scores"][0]["session_id"] == "s1"
    assert all(s["reason"] for s in body["scores"][1:])
    metrics = client.get("/metrics").text
    assert 'streamlab_qoe_events_total{outcome="rejected"}' in metrics


@pytest.mark.parametrize("body", [{"events": [HEARTBEAT]}, HEARTBEAT, "heartbeat", 3])
def test_qoe_ingest_refuses_a_body_that_is_not_a_list(client, body) -> None:
    answer = client.post("/qoe/ingest", json=body)
    assert answer.status_code == 400 and "JSON list" in answer.text


def test_qoe_ingest_refuses_a_body_that_is_not_json(client) -> None:
    answer = client.post("/qoe/ingest", content=b"{not json", headers={"content-type": "application/json"})
    assert answer.status_code == 400 and "not JSON" in answer.text


def test_cors_preflight_allows_the_local_player_page_only(client) -> None:
    for route in ("/abr/decide", "/qoe/ingest"):
        ok = client.options(
            route,
            headers={
                "Origin": "http://127.0.0.1:8123",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://127.0.0.1:8123"
    evil = client.options(
        "/abr/decide", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert evil.status_code == 400 and "access-control-allow-origin" not in evil.headers
    simple = client.post("/qoe/ingest", json=[], headers={"Origin": "http://localhost:9000"})
    assert simple.headers["access-control-allow-origin"] == "http://localhost:9000"


def test_service_raises_the_same_alerts_as_the_detector_in_process(client, tmp_path) -> None:
    """One hour with a region collapse, posted in beacon batches: the alerts equal an in-process StreamingDetector's."""
    from streamlab.models.qoe.model import QoeModel
    from streamlab.models.qoe.settings import load_settings
    from streamlab.models.qoe.streaming import StreamingDetector
    from streamlab.models.qoe.weights import default_dir
    from streamlab.training.qoe.library import load_library
    from streamlab.training.qoe.simulate import simulate, write_simulation

    settings = load_settings(["abr.max_traces=24", "abr.offsets=2"])
    evening = settings.population.model_copy(update={"start_epoch_s": settings.population.start_epoch_s + 18 * 3600})
    sim = simulate(
        settings.model_copy(update={"population": evening}),
        seed=5,
        days=1 / 24,
        spec="region_collapse(us-east)@20m+20m",
        library=load_library(settings.abr, tmp_path / "cache"),
    )
    path = tmp_path / "events.jsonl"
    write_simulation(sim, path)
    events = [json.loads(line) for line in path.read_text().splitlines()]

    local = StreamingDetector(QoeModel.load(default_dir()))
    _, expected = local.ingest(events)
    assert expected, "the simulated collapse should open an alert"

    opened = []
    for start in range(0, len(events), 4000):
        answer = client.post("/qoe/ingest", json=events[start : start + 4000])
        assert answer.status_code == 200 and answer.json()["rejected"] == 0
        opened += answer.json()["alerts_opened"]
    assert [(a["dimension"], a["value"], a["start"]) for a in opened] == [
        (a.dimension, a.value, a.start) for a in expected
    ]
    listed = client.get("/qoe/alerts").json()["alerts"]
    assert [a["id"] for a in listed][-len(opened) :] == [a["id"] for a in opened]


def test_concurrent_beacon_batches_are_all_scored(client) -> None:
    """Eight players post at once (the service scores on a thread pool): one locked detector, nothing lost."""
    from concurrent.futures import ThreadPoolExecutor

    def player(n: int) -> int:
        accepted = 0
        with httpx.Client(base_url=str(client.base_url), trust_env=False, timeout=60) as own:
            for step in range(5):
                beat = {**HEARTBEAT, "session_id": f"c{n}", "viewer_id": f"v{n}", "timestamp": 2_000_000.0 + step * 5}
                accepted += own.post("/qoe/ingest", json=[beat, beat]).json()["accepted"]
        return accepted

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(player, range(8))) == 8 * 5 * 2
