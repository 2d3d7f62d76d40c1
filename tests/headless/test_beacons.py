"""QoE beacons from headless sessions: schema-valid, cumulative, on the session clock, never lost."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from streamlab.models.qoe.telemetry import EVENT_ADAPTER
from streamlab.streaming.headless.beacons import BeaconEmitter, BeaconSink, ViewerContext
from streamlab.streaming.headless.manifest import load_title
from streamlab.streaming.headless.player import play_session
from streamlab.streaming.headless.policies import BolaPolicy
from tests.headless.conftest import TITLE

VIEWER = ViewerContext("v1", "s1", TITLE, "web", "eu-west", "eu-west-1")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _play(stack, traces, settings, sink: BeaconSink) -> tuple:
    with httpx.Client(trust_env=False) as client:
        title = load_title(client, stack.edge_url, TITLE)
    emitter = BeaconEmitter(VIEWER, sink, started_at=1_767_600_000.0, time_scale=settings.time_scale,
                            heartbeat_every_s=1.0, segment_duration_s=title.segment_duration_s)
    result = play_session(title, traces[3], BolaPolicy(), settings, on_chunk=emitter.on_chunk)
    emitter.finish(result)
    sink.close()
    return result, [json.loads(line) for line in sink.path.read_text().splitlines()]


def test_a_session_sends_schema_valid_cumulative_heartbeats_and_one_summary(stack, traces, fast_settings, tmp_path) -> None:
    result, rows = _play(stack, traces, fast_settings, BeaconSink(tmp_path / "events.jsonl"))
    events = [EVENT_ADAPTER.validate_python(row) for row in rows]  # the detector's own schema, strictly
    beats, summary = events[:-1], events[-1]
    assert len(beats) >= 2 and all(e.kind == "heartbeat" for e in beats) and summary.kind == "session_end"
    times = [e.timestamp for e in events]
    assert times == sorted(times) and times[0] >= 1_767_600_000.0
    for before, after in zip(beats, beats[1:], strict=False):  # counters are cumulative since start
        assert after.rebuffer_count >= before.rebuffer_count and after.bitrate_switches >= before.bitrate_switches
    assert summary.rebuffer_count == sum(1 for c in result.chunks if c.rebuffer_s > 0)
    assert summary.rebuffer_s == pytest.approx(result.rebuffer_s)
    assert not summary.playback_failed and summary.startup_s is not None and summary.chunk_qoe_mean is not None
    assert summary.play_s == pytest.approx(24.0), "the whole title was delivered, so the whole title plays"


def test_beacons_survive_a_dead_ingest_endpoint(stack, traces, fast_settings, tmp_path) -> None:
    sink = BeaconSink(tmp_path / "events.jsonl", f"http://127.0.0.1:{_closed_port()}/qoe/ingest", timeout_s=0.2)
    _, rows = _play(stack, traces, fast_settings, sink)
    assert sink.counts["written"] == len(rows) > 0, "every event is in the local file"
    assert sink.counts["post_failed"] == len(rows) and sink.counts["posted"] == 0


def test_a_failed_session_says_why_in_its_summary(traces, fast_settings, tmp_path, stack) -> None:
    with httpx.Client(trust_env=False) as client:
        title = load_title(client, stack.edge_url, TITLE)
    broken = title.rungs[0].__class__(**{**title.rungs[0].__dict__,
                                         "segment_urls": tuple(u + ".missing" for u in title.rungs[0].segment_urls)})
    title = title.__class__(title.title_id, title.master_url, (broken,))
    sink = BeaconSink(tmp_path / "events.jsonl")
    emitter = BeaconEmitter(VIEWER, sink, started_at=1_767_600_000.0, time_scale=fast_settings.time_scale)
    summary = emitter.finish(play_session(title, traces[0], BolaPolicy(), fast_settings))
    sink.close()
    assert summary.playback_failed and summary.failure_reason == "segment_fetch_failed" and summary.startup_s is None
    assert EVENT_ADAPTER.validate_json(sink.path.read_text().splitlines()[-1]).kind == "session_end"
