"""``/recommend`` over HTTP with a real (small) registered recommender."""

from __future__ import annotations

import httpx
import pytest

from tests.serving.conftest import register_small_recsys
from tests.serving.test_service_http import free_port

pytestmark = pytest.mark.slow


def test_recommend_ranks_known_viewers_and_falls_back_to_popular(mlflow_store, tmp_path) -> None:
    from streamlab.serving.server import running_server

    version = register_small_recsys(tmp_path)
    overrides = [f"port={free_port()}", "models.abr.enabled=false", "models.recommend.feature_store=false"]
    overrides += ["models.ladder.enabled=false", "models.qoe.enabled=false"]
    with running_server(overrides) as server, httpx.Client(base_url=server.url, trust_env=False, timeout=10) as client:
        known = client.post("/recommend", json={"viewer": "196", "k": 5, "context": {"device": "tv"}}).json()
        assert known["source"] == "model" and known["model_version"] == version
        assert len(known["titles"]) == 5 and all(t["reason"] == "ranked for this viewer" for t in known["titles"])
        scores = [t["score"] for t in known["titles"]]
        assert scores == sorted(scores, reverse=True)

        stranger = client.post(
            "/recommend",
            json={"viewer": "nobody-42", "k": 3, "context": {"timestamp_s": 891_000_000, "device": "mobile"}},
        ).json()
        assert stranger["source"] == "popular" and len(stranger["titles"]) == 3
        assert (
            stranger["titles"][0]["reason"].startswith("popular around") and "mobile" in stranger["titles"][0]["reason"]
        )

        assert client.post("/recommend", json={"viewer": "196", "k": 0}).status_code == 400
        assert client.post("/recommend", json={"viewer": "196", "context": {"device": "toaster"}}).status_code == 400
        assert client.post("/recommend", json={"k": 3}).status_code == 400
        assert client.get("/readyz").status_code == 200
        loaded = client.post("/models/status", json={}).json()["models"]["recommend"]
        assert loaded["warm_ups"] == 1 and loaded["warm_up_ms"] > 0  # answered its first requests before serving
        metrics = client.get("/metrics").text
        assert 'streamlab_serving_fallbacks_total{endpoint="recommend",reason="unknown_viewer"} 1.0' in metrics
