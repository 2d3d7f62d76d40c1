"""Telemetry schema v2 (issue 19): documented, validated, versioned; v1 still accepted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamlab.models.qoe.schema_v2 import CMCD_KEYS, OUTCOMES, Cmcd, HeartbeatV2, SessionEndV2, parse_event

DOC = Path(__file__).resolve().parents[2] / "models" / "qoe" / "SCHEMA.md"
WHERE = {"title_id": "t1", "region": "north", "edge": "north-1", "device_class": "tv"}
BEAT = {"schema_version": 2, "kind": "heartbeat", "timestamp": 1767571260.0, "viewer_id": "v1", "session_id": "s1",
        "playhead_s": 20.0, "buffer_s": 8.0, "bitrate_kbps": 3000.0, "startup_s": 1.2, **WHERE}
END = {"schema_version": 2, "kind": "session_end", "timestamp": 1767571300.0, "viewer_id": "v1", "session_id": "s2",
       "started_at": 1767571290.0, "play_s": 0.0, **WHERE}


def _doc_fields(section: str) -> set[str]:
    """The backticked names in the first cell of every row of a SCHEMA.md section's table."""
    body = DOC.read_text().split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    table = body[body.index("\n|"):].split("\n\n", 1)[0]  # the section's first table only
    return {name for line in table.splitlines() if line.startswith("| `")
            for name in re.findall(r"`([a-z_]+)`", line.split("|")[1])}


def test_the_document_lists_every_field_the_validator_knows() -> None:
    common = _doc_fields("Common fields (both kinds)")
    beat = _doc_fields("`heartbeat`")
    end = _doc_fields("`session_end`")
    assert set(HeartbeatV2.model_fields) == common | beat
    assert set(SessionEndV2.model_fields) == common | end
    assert set(Cmcd.model_fields) == set(CMCD_KEYS) == _doc_fields("CMCD (`cmcd` object)")
    assert all(f"`{o}`" in DOC.read_text() for o in OUTCOMES)


def test_an_exit_before_start_is_not_a_failure_and_needs_no_reason() -> None:
    event, reason = parse_event({**END, "outcome": "exit_before_video_start"})
    assert reason is None and event.outcome == "exit_before_video_start"
    _, reason = parse_event({**END, "outcome": "video_start_failure"})
    assert reason is not None and "failure_reason" in reason
    _, reason = parse_event({**END, "outcome": "exited"})
    assert reason is not None and "startup_s" in reason


@pytest.mark.parametrize(("startup", "outcome"), [(None, "video_start_failure"), (1.5, "video_playback_failure")])
def test_v1_events_are_still_accepted_and_up_converted(startup, outcome) -> None:
    v1 = {"kind": "session_end", "timestamp": 10.0, "viewer_id": "v", "session_id": "s", "title_id": "t", "region": "r",
          "edge": "e", "device": "tv", "started_at": 1.0, "play_s": 0.0, "avg_bitrate_kbps": 0.0, "playback_failed": True,
          "failure_reason": "x", "startup_s": startup}
    event, reason = parse_event({k: v for k, v in v1.items() if v is not None})
    assert reason is None
    assert event.schema_version == 2 and event.device_class == "tv" and event.outcome == outcome and event.isp is None


def test_bad_versions_dimensions_and_cmcd_are_refused_with_a_countable_reason() -> None:
    assert parse_event({**BEAT, "schema_version": 3})[1].startswith("unknown schema_version:")
    assert parse_event({k: v for k, v in BEAT.items() if k != "edge"})[1] == "missing dimension: edge"
    assert parse_event({**BEAT, "cmcd": {"sid": "other"}})[1].startswith("invalid field:")
    assert parse_event({**BEAT, "isp_name": "x"})[1].startswith("invalid field:")
    assert parse_event("{not json")[1].startswith("invalid JSON:")
    assert parse_event({**BEAT, "kind": "ping"})[1].startswith("unknown kind:")


def test_cmcd_alone_fills_the_beacon_and_unknown_cmcd_keys_are_kept() -> None:
    beat = {k: v for k, v in BEAT.items() if k not in ("bitrate_kbps", "buffer_s")}
    event, reason = parse_event({**beat, "cmcd": {"br": 2500, "bl": 7100, "mtp": 9000, "st": "l", "sid": "s1", "cid": "t1",
                                                  "xx": 1}})
    assert reason is None
    assert (event.bitrate_kbps, event.buffer_s, event.throughput_kbps, event.content_type) == (2500, 7.1, 9000, "live")
    assert event.cmcd.model_extra == {"xx": 1}
