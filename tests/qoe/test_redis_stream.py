"""The durable stream (issue 19): kill the detector mid-stream, restart it: every event once, every alert once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from streamlab.models.qoe.eb import EbDetector
from streamlab.models.qoe.schema_v2 import parse_event
from streamlab.streaming.telemetry.redis_stream import GROUP, STREAM, RedisServer, publish
from streamlab.training.qoe.world_v2 import START_EPOCH_S, steady_stream

T0 = START_EPOCH_S + 10 * 60

pytestmark = pytest.mark.skipif(not Path("/usr/bin/redis-server").exists(), reason="needs Debian's redis-server")


def _events() -> list[dict]:
    def effect(t, d):
        return {"crash": 0.3} if t >= T0 and d["device_class"] == "fridge" else {}

    events = steady_stream(20, 40, seed=8, groups={"region": ["a", "b", "c"], "device_class": ["fridge", "car", "watch"]},
                           effect=effect)
    return events + events[1000:1040]  # a re-sent batch: duplicates


def _reference(events: list[dict]) -> tuple[list[str], dict]:
    det = EbDetector()
    opened = []
    for raw in events:
        event, _ = parse_event(raw)
        opened += det.ingest(event)[1]
    return [a.id for a in opened], det.stats()


class _Hook(BaseHTTPRequestHandler):
    received: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Hook.received += [a["id"] for a in body["alerts"]]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def _consumer(port: int, tmp: Path, webhook: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "streamlab.streaming.telemetry.redis_stream", "--port", str(port),
                             "--checkpoint", str(tmp / "ckpt"), "--sink", str(tmp / "alerts.jsonl"), "--webhook", webhook,
                             "--batch", "200", "--idle-exit-s", "2"])


@pytest.mark.slow
def test_a_killed_detector_resumes_with_no_event_or_alert_lost_or_repeated(tmp_path: Path) -> None:
    events = _events()
    want_ids, want_stats = _reference(events)
    assert any(i.startswith("device_class=fridge@") for i in want_ids), want_ids
    hook = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{hook.server_address[1]}/alerts"
    try:
        with RedisServer() as server:
            client = server.client()
            publish(client, events)
            first = _consumer(server.port, tmp_path, url)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                groups = client.xinfo_groups(STREAM)
                if groups and (groups[0].get("entries-read") or 0) >= len(events) // 2:
                    break
                time.sleep(0.05)
            first.kill()  # SIGKILL mid-stream: no chance to tidy up
            first.wait(10)
            pending_at_kill = client.xpending(STREAM, GROUP)["pending"]
            second = _consumer(server.port, tmp_path, url)
            assert second.wait(120) == 0
            assert client.xpending(STREAM, GROUP)["pending"] == 0
            done = json.loads((tmp_path / "ckpt" / "done.json").read_text())
    finally:
        hook.shutdown()
    assert pending_at_kill >= 0
    assert done["counted"] == len(events)
    assert done["stats"]["accepted"] == want_stats["accepted"]
    assert done["refused"] == {"duplicate": want_stats["duplicate"]} and want_stats["duplicate"] == 40
    sent = [json.loads(line)["id"] for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert sent == want_ids  # none lost, none repeated, in order
    assert set(_Hook.received) == set(want_ids)  # the webhook is at least once; its receiver dedupes by id


def test_a_checkpoint_from_another_detector_layout_is_refused_by_name(tmp_path: Path) -> None:
    """An upgrade changes the detector's pickled state: the old checkpoint is refused with a reason
    (and left alone) instead of failing on a missing attribute windows later."""
    import pickle

    from streamlab.core.errors import StreamlabError
    from streamlab.models.qoe.eb import EbDetector
    from streamlab.streaming.telemetry.redis_stream import AlertSink, Checkpointed, StreamConsumer

    old = Checkpointed(EbDetector(), detector_format=EbDetector.STATE_FORMAT - 1)
    (tmp_path / "checkpoint.pkl").write_bytes(pickle.dumps(old))
    now = EbDetector.STATE_FORMAT
    with pytest.raises(StreamlabError, match=f"state format {now - 1}, this one reads {now}"):
        StreamConsumer(None, tmp_path, AlertSink(tmp_path / "alerts.jsonl"))
    assert pickle.loads((tmp_path / "checkpoint.pkl").read_bytes()).detector_format == now - 1
