"""``/readyz`` is true only when every enabled model is loaded; endpoints without their model say so."""

from __future__ import annotations

import time

import httpx
import pytest

from streamlab.models.ladder.family import FAMILY as LADDER
from streamlab.serving.registration import register
from tests.serving.conftest import free_port, register_qoe_version
from tests.serving.test_ladder_qoe_http import FEATURES, HEARTBEAT

pytestmark = pytest.mark.slow


def test_not_ready_until_every_enabled_model_is_registered(abr_registry) -> None:
    from streamlab.serving.server import running_server

    overrides = [f"port={free_port()}", "models.recommend.enabled=false", "watch_interval_s=0.5"]
    with (
        running_server(overrides, wait="/healthz") as server,
        httpx.Client(base_url=server.url, trust_env=False, timeout=30) as client,
    ):
        assert client.get("/readyz").status_code != 200
        status = client.post("/models/status", json={}).json()
        assert status["ready"] is False and status["models"]["abr"]["ready"] is True
        assert f"{LADDER.name}@champion cannot be resolved" in status["models"]["ladder"]["last_error"]
        assert client.post("/abr/decide", json={**ABR, "samples": []}).json()["source"] == "model"
        assert client.post("/ladder", json={"features": FEATURES}).status_code == 503
        refused = client.post("/qoe/ingest", json=[HEARTBEAT])
        assert refused.status_code == 503 and "no QoE detector" in refused.text

        register("ladder")
        register_qoe_version()
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.25)
        assert client.get("/readyz").status_code == 200
        assert client.post("/ladder", json={"features": FEATURES}).status_code == 200
        assert client.post("/qoe/ingest", json=[HEARTBEAT]).json()["accepted"] == 1
        text = client.get("/metrics").text
        assert 'streamlab_serving_requests_total{endpoint="ladder",outcome="error"}' in text


ABR = {
    "buffer_s": 10.0,
    "last_rung": 0,
    "chunks_remaining": 10,
    "ladder": [{"bitrate_kbps": 400}, {"bitrate_kbps": 1200}],
}
