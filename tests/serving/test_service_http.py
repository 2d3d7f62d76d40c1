"""The BentoML service over real HTTP: typed APIs, clear 4xx, readiness, metrics, refused versions."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.serving.conftest import register_abr_version

pytestmark = pytest.mark.slow

LADDER = [{"bitrate_kbps": b, "chunk_sizes_bytes": [b * 500] * 3} for b in (300, 700, 1500, 3000, 6000)]
STATE = {
    "buffer_s": 15.0,
    "last_rung": 2,
    "chunks_remaining": 10,
    "segment_duration_s": 4.0,
    "samples": [{"bytes": 1_000_000, "download_ms": 900.0}] * 5,
    "ladder": LADDER,
}


ONLY_ABR = ["models.recommend.enabled=false", "models.ladder.enabled=false", "models.qoe.enabled=false"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def server(abr_registry: str):
    from streamlab.serving.server import running_server

    with running_server([f"port={free_port()}", *ONLY_ABR, "watch_interval_s=0.5"]) as running:
        yield running


def test_service_decides_validates_and_reports(server, corrupt_checkpoint) -> None:
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200

        decision = client.post("/abr/decide", json=STATE).json()
        assert decision["source"] == "model" and decision["model_version"] == "1"
        assert 0 <= decision["rung"] < len(LADDER) and decision["reason"].startswith("learned")

        bad = client.post("/abr/decide", json={**STATE, "last_rung": 9})
        assert bad.status_code == 400 and "last_rung" in bad.text
        unsorted = client.post("/abr/decide", json={**STATE, "ladder": LADDER[::-1]})
        assert unsorted.status_code == 400 and "increase" in unsorted.text
        assert client.post("/abr/decide", json={"buffer_s": -1}).status_code == 400

        live = {**STATE, "mode": "live", "latency_s": 2.4, "target_latency_s": 2.0, "part_duration_s": 0.333,
                "segment_duration_s": 2.0}
        answered = client.post("/abr/decide", json=live)
        assert answered.status_code == 200, answered.text
        assert 0 <= answered.json()["rung"] < len(LADDER) and 0.95 <= answered.json()["playback_rate"] <= 1.05
        no_latency = client.post("/abr/decide", json={k: v for k, v in live.items() if k != "latency_s"})
        assert no_latency.status_code == 400 and "latency_s" in no_latency.text

        broken = register_abr_version(corrupt_checkpoint)
        deadline = time.monotonic() + 30
        status = client.post("/models/status", json={}).json()
        while status["models"]["abr"]["refused_version"] != broken and time.monotonic() < deadline:
            time.sleep(0.25)
            status = client.post("/models/status", json={}).json()
        abr = status["models"]["abr"]
        assert abr["refused_version"] == broken and abr["version"] == "1" and "non-finite" in abr["last_error"]
        assert client.post("/abr/decide", json=STATE).json()["model_version"] == "1"

        text = client.get("/metrics").text
        assert 'streamlab_serving_requests_total{endpoint="abr/decide",outcome="ok"}' in text
        assert 'streamlab_serving_model_version{alias="champion",model="abr-policy"} 1.0' in text
        assert 'streamlab_serving_model_load_failures_total{model="abr-policy"} 1.0' in text
        assert 'streamlab_serving_model_ready{model="abr-policy"} 1.0' in text
