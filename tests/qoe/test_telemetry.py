"""Telemetry schema and ingestion: every bad event is rejected with a reason and counted."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.models.qoe.errors import TelemetryError
from streamlab.models.qoe.ingest import parse_lines, parse_records, read_events, write_events, write_rejects
from streamlab.models.qoe.telemetry import Heartbeat, SessionSummary

BASE = {"viewer_id": "v1", "session_id": "s1", "title_id": "t001", "timestamp": 1_700_000_000.0,
        "device": "tv", "region": "eu-west", "edge": "eu-west-1"}
HEARTBEAT = {**BASE, "kind": "heartbeat", "playhead_s": 12.0, "buffer_s": 8.5, "bitrate_kbps": 1850.0,
             "throughput_kbps": 3100.0, "startup_s": 1.2, "rebuffer_count": 1, "rebuffer_s": 0.4,
             "bitrate_switches": 2, "errors": 0}
SUMMARY = {**BASE, "kind": "session_end", "started_at": 1_699_999_800.0, "startup_s": 1.2, "play_s": 190.0,
           "rebuffer_count": 1, "rebuffer_s": 0.4, "bitrate_switches": 3, "avg_bitrate_kbps": 2100.0,
           "errors": 0, "playback_failed": False, "chunk_qoe_mean": 1.7}


def test_valid_heartbeat_and_summary_are_accepted():
    result = parse_lines([json.dumps(HEARTBEAT), json.dumps(SUMMARY)])
    assert result.rejects == []
    assert isinstance(result.heartbeats[0], Heartbeat) and isinstance(result.summaries[0], SessionSummary)


@pytest.mark.parametrize(("event", "reason"), [
    ({**HEARTBEAT, "buffer_s": -1}, "buffer_s"),
    ({**HEARTBEAT, "timestamp": "yesterday"}, "timestamp"),
    ({**HEARTBEAT, "kind": "ping"}, "unknown kind"),
    ({**HEARTBEAT, "bitrate_kbsp": 5}, "bitrate_kbsp"),
    ({k: v for k, v in HEARTBEAT.items() if k != "session_id"}, "session_id"),
    ({**HEARTBEAT, "rebuffer_count": 0}, "rebuffer_count=0"),
    ({**HEARTBEAT, "region": "eu west"}, "region"),
    ({**SUMMARY, "playback_failed": True}, "failure_reason"),
    ({**SUMMARY, "startup_s": None}, "startup_s is null"),
    ({**SUMMARY, "started_at": SUMMARY["timestamp"] + 5}, "started_at"),
])
def test_malformed_event_is_rejected_with_its_reason(event, reason):
    result = parse_lines([json.dumps(event)])
    assert result.accepted == 0 and len(result.rejects) == 1
    assert reason in result.rejects[0].reason and result.rejects[0].line == 1


def test_non_json_and_non_object_lines_are_rejected_and_counted(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([json.dumps(HEARTBEAT), "{not json", "[1, 2]", "", json.dumps(SUMMARY)]) + "\n")
    result = read_events(path)
    assert result.accepted == 2
    assert [r.line for r in result.rejects] == [2, 3]
    summary = write_rejects(result, tmp_path / "rejects.jsonl")
    assert summary["rejected"] == 2
    assert summary["rejected_by_reason"] == {"invalid JSON": 1, "not a JSON object": 1}
    assert len((tmp_path / "rejects.jsonl").read_text().splitlines()) == 2


def test_parquet_round_trip_keeps_every_event(tmp_path):
    events = parse_lines([json.dumps(HEARTBEAT), json.dumps(SUMMARY)])
    path = tmp_path / "events.parquet"
    write_events(events.heartbeats + events.summaries, path)
    back = read_events(path)
    assert back.rejects == [] and back.heartbeats == events.heartbeats and back.summaries == events.summaries


def test_jsonl_round_trip_keeps_every_event(tmp_path):
    events = parse_lines([json.dumps(HEARTBEAT), json.dumps(SUMMARY)])
    path = tmp_path / "events.jsonl"
    write_events(events.heartbeats + events.summaries, path)
    assert read_events(path).heartbeats == events.heartbeats


def test_unknown_file_format_is_a_clear_error(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("a,b\n")
    with pytest.raises(TelemetryError, match="unknown events format"):
        read_events(path)


def test_parquet_row_with_missing_field_is_rejected():
    result = parse_records([{**HEARTBEAT, "edge": None}])
    assert "edge" in result.rejects[0].reason


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=40), st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
                          st.dictionaries(st.sampled_from(sorted(HEARTBEAT)), st.one_of(
                              st.none(), st.integers(-5, 10**7), st.floats(allow_nan=True), st.text(max_size=8)),
                              max_size=12).map(json.dumps)), max_size=8))
def test_parser_accounts_for_every_nonblank_line(lines):
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    result = parse_lines(lines)
    assert result.accepted + len(result.rejects) == sum(1 for line in lines if line.strip())
    assert all(r.reason for r in result.rejects)


@settings(max_examples=60, deadline=None)
@given(st.fixed_dictionaries({"buffer_s": st.floats(0, 600), "rebuffer_count": st.integers(1, 50),
                              "rebuffer_s": st.floats(0, 1e4), "errors": st.integers(0, 100)}))
def test_valid_heartbeats_survive_a_jsonl_round_trip(fields):
    event = Heartbeat.model_validate({**HEARTBEAT, **fields})
    result = parse_lines([event.model_dump_json()])
    assert result.heartbeats == [event]
