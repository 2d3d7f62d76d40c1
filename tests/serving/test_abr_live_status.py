"""``/models/status`` says which live ABR policy answers ``abr/decide`` live requests.

The live policy is the committed checkpoint, not a registered version, so its file and content
hash are what identify it (``serving/service.py`` ``live_abr_status``); the session's shared server.
"""

from __future__ import annotations

import httpx
import pytest

from streamlab.models.abr.live.learned import live_checkpoint_identity

pytestmark = pytest.mark.slow

LIVE = {
    "mode": "live", "buffer_s": 1.2, "latency_s": 2.4, "target_latency_s": 1.0, "playback_rate": 1.0, "last_rung": 0,
    "chunks_remaining": 100000, "segment_duration_s": 2.0, "part_duration_s": 0.334,
    "samples": [{"bytes": 250_000, "download_ms": 300.0}] * 4,
    "ladder": [{"bitrate_kbps": b} for b in (250, 800)],
}


def test_status_names_the_committed_live_checkpoint_that_answers(model_server) -> None:
    with httpx.Client(base_url=model_server.url, trust_env=False, timeout=30) as client:
        live = client.post("/models/status", json={}).json()["live_abr"]
        answered = client.post("/abr/decide", json=LIVE).json()
    committed = live_checkpoint_identity()
    assert committed["sha256"] and live["sha256"] == committed["sha256"], live
    assert live["policy"] == "learned-live" and live["loaded"] and live["checkpoint"] == "learned_live.npz"
    assert answered["source"] == "model" and answered["reason"].startswith("learned-live"), answered


def test_an_unreadable_live_checkpoint_has_no_hash(tmp_path) -> None:
    assert live_checkpoint_identity(tmp_path / "learned_live.npz") == {
        "checkpoint": "learned_live.npz", "sha256": None, "val_mean_qoe_live": None}
