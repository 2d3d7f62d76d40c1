"""Ingest's ``--ladder service``: the server's rungs when it answers, the fixed ladder (recorded) when it cannot."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import threading
from pathlib import Path

import pytest

from streamlab.core import project
from streamlab.streaming.ingest.settings import load_streaming_settings
from streamlab.streaming.transcode.per_title.service_client import FALLBACKS, LadderServiceRefused, service_ladder
from tests.serving.conftest import free_port

pytestmark = pytest.mark.slow

CARPHONE = "videos/carphone_pristine.mp4"


@pytest.fixture()
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fallback records go to this test's own state folder."""
    monkeypatch.setattr(project, "state_dir", lambda: tmp_path / "state")
    return tmp_path / "state"


def point_at(monkeypatch: pytest.MonkeyPatch, port: int, *extra: str) -> None:
    monkeypatch.setenv("STREAMLAB_SERVING_OVERRIDES", json.dumps([f"port={port}", *extra]))


def transcode():
    return load_streaming_settings().transcode


def fallbacks(reason: str) -> float:
    return FALLBACKS.labels(reason=reason)._value.get()


def test_service_rungs_are_the_per_title_predicted_rungs(model_server, raw_dir, monkeypatch) -> None:
    from streamlab.streaming.transcode.per_title.selector import per_title_predicted

    point_at(monkeypatch, int(model_server.url.rsplit(":", 1)[1]))
    source = raw_dir / CARPHONE
    rungs = service_ladder(source, 176, 144, transcode())
    assert {r.codec for r in rungs} == {"h264", "av1"} and all(r.profile == "per-title-service" for r in rungs)
    assert all(r.encoder is not None and r.encoder.rate_control == "capped_crf" for r in rungs)
    local = per_title_predicted(source, 176, 144, transcode())
    assert [r.model_copy(update={"profile": "x"}) for r in rungs] == [
        r.model_copy(update={"profile": "x"}) for r in local
    ]


def test_a_source_the_server_refuses_fails_with_its_reason(model_server, tmp_path, raw_dir, monkeypatch) -> None:
    point_at(monkeypatch, int(model_server.url.rsplit(":", 1)[1]))
    outside = tmp_path / "clip.mp4"
    shutil.copy(raw_dir / CARPHONE, outside)
    with pytest.raises(LadderServiceRefused, match="outside the allowed roots"):
        service_ladder(outside, 176, 144, transcode())


def test_service_down_falls_back_to_the_fixed_ladder_and_records_it(raw_dir, state, monkeypatch, capsys) -> None:
    point_at(monkeypatch, free_port())  # nothing listens there
    before = fallbacks("unreachable")
    rungs = service_ladder(raw_dir / CARPHONE, 176, 144, transcode())
    assert rungs and all(r.profile.endswith("-fallback") and r.encoder is None for r in rungs)
    assert fallbacks("unreachable") == before + 1
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("warning: ladder service") and "fixed ladder" in warning[0]
    entry = json.loads((state / "serving" / "ladder-fallbacks.jsonl").read_text().splitlines()[-1])
    assert entry["reason"] == "unreachable" and entry["source"].endswith("carphone_pristine.mp4")


def test_a_server_past_the_time_budget_falls_back(raw_dir, state, monkeypatch) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        point_at(monkeypatch, silent.getsockname()[1], "ladder_client.timeout_s=0.5")
        before = fallbacks("timeout")
        rungs = service_ladder(raw_dir / CARPHONE, 176, 144, transcode())
    assert all(r.profile.endswith("-fallback") for r in rungs) and fallbacks("timeout") == before + 1


def test_a_server_error_falls_back(raw_dir, state, monkeypatch) -> None:
    class Unavailable(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b'{"error": "no ladder model version is loaded yet"}')

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        point_at(monkeypatch, server.server_address[1])
        before = fallbacks("server_error")
        rungs = service_ladder(raw_dir / CARPHONE, 176, 144, transcode())
    finally:
        server.shutdown()
        server.server_close()
    assert all(r.profile.endswith("-fallback") for r in rungs) and fallbacks("server_error") == before + 1


def test_an_ingest_with_the_service_down_publishes_the_fixed_ladder_marked_as_fallback(
    raw_dir, state, media_root, monkeypatch
) -> None:
    from streamlab.streaming.catalog import read_title
    from streamlab.streaming.ingest.pipeline import ingest_title

    point_at(monkeypatch, free_port())
    fast = [f"ingest.allowed_roots=[{raw_dir}]", "transcode.x264_preset=ultrafast", "transcode.mode=serial"]
    record = ingest_title(raw_dir / CARPHONE, "carphone", ladder="service", overrides=fast, media_root=media_root)
    published = read_title(media_root, "carphone")
    assert published.ladder == "service" and record.renditions
    assert all(r.profile.endswith("-fallback") for r in published.renditions)


def test_an_ingest_with_the_service_up_publishes_its_h264_and_av1_rungs(model_server, raw_dir, media_root, monkeypatch):
    from streamlab.streaming.catalog import read_title
    from streamlab.streaming.ingest.pipeline import ingest_title

    point_at(monkeypatch, int(model_server.url.rsplit(":", 1)[1]))
    fast = [f"ingest.allowed_roots=[{raw_dir}]", "transcode.mode=serial"]
    ingest_title(raw_dir / CARPHONE, "carphone", ladder="service", overrides=fast, media_root=media_root)
    published = read_title(media_root, "carphone")
    assert {r.codec for r in published.renditions} == {"h264", "av1"}
    assert all(r.profile == "per-title-service" and r.segment_count >= 1 for r in published.renditions)
