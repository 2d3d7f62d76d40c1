"""The eb detector's batch path (issue 19: 50k events/s) decides exactly what the one-event-at-a-time path decides.

The batch path decodes lines with msgspec into structs derived from the pydantic models and proves plain events
valid without a model (:func:`fast_record`); everything else goes to :func:`parse_event`. Both feed the same
:meth:`EbDetector.ingest`. These tests hold the two paths to identical alerts, refusal counters and
field values, on a stream with an incident and bad events of every kind the issue names.
"""

from __future__ import annotations

import copy
import json
import math
from collections import Counter
from typing import Annotated, Any, Literal

import msgspec
import pytest

from streamlab.models.qoe import schema_v2
from streamlab.models.qoe.eb import EbDetector, detect_lines
from streamlab.models.qoe.schema_v2 import fast_record, parse_event, parse_record
from streamlab.training.qoe.world_v2 import START_EPOCH_S, steady_stream

T0 = START_EPOCH_S + 20 * 60

HEARTBEAT: dict[str, Any] = {
    "schema_version": 2, "kind": "heartbeat", "event_id": "s1.3", "seq": 3, "timestamp": START_EPOCH_S + 60.5,
    "viewer_id": "v1", "session_id": "s1", "title_id": "m00001", "region": "us-east", "edge": "use-iad1",
    "device_class": "tv", "content_type": "live", "isp": "comcast", "asn": 7922, "cdn": "akamai", "pathway": "akm-a",
    "app_version": "5.2.0", "player_version": "shaka-4.10.0", "os": "tizen-7", "device_model": "QN90",
    "connection_type": "wifi", "playhead_s": 60.0, "buffer_s": 12.0, "bitrate_kbps": 3000, "resolution_height": 720,
    "rendition": "720p", "throughput_kbps": 5400.5, "startup_s": 1.8, "rebuffer_count": 1, "rebuffer_s": 0.5,
    "bitrate_switches": 2, "errors": 0, "dropped_frames": 3, "live_latency_s": 6,
    "cmcd": {"br": 3000, "bl": 12000, "bs": False, "cid": "m00001", "d": 6000, "mtp": 5400, "ot": "v", "pr": 1,
             "sf": "h", "sid": "s1", "st": "l", "su": False, "tb": 8000}}
SESSION_END: dict[str, Any] = {
    "schema_version": 2, "kind": "session_end", "seq": 9, "timestamp": START_EPOCH_S + 300.0, "viewer_id": "v1",
    "session_id": "s1", "title_id": "m00001", "region": "us-east", "edge": "use-iad1", "device_class": "tv",
    "started_at": START_EPOCH_S, "outcome": "video_playback_failure", "failure_reason": "media_decode_error",
    "play_s": 280, "startup_s": 1.8, "rebuffer_count": 0, "rebuffering_ratio": 0.01, "avg_bitrate_kbps": 2900.0,
    "avg_resolution_height": 700.0, "rendition": "720p", "chunk_qoe_mean": -0.5}

_MUTATIONS: list[tuple[str, Any]] = [
    # (field, value) replacements; ``...`` deletes the field
    ("schema_version", 1), ("schema_version", "2"), ("schema_version", True), ("schema_version", 2.0), ("schema_version", 3),
    ("kind", "beat"), ("kind", None), ("event_id", ""), ("event_id", "a b"), ("event_id", "x" * 65), ("event_id", 7),
    ("seq", -1), ("seq", 1.0), ("seq", True), ("seq", "3"), ("seq", 10_000_001), ("timestamp", -1.0),
    ("timestamp", "1767571260"), ("timestamp", float("inf")), ("timestamp", float("nan")), ("timestamp", 2**60),
    ("timestamp", 1767571260), ("timestamp", True), ("viewer_id", ...), ("session_id", "s\n"), ("title_id", ""),
    ("title_id", None), ("title_id", ...), ("region", 5), ("edge", "é"), ("device_class", ...), ("content_type", "tv"),
    ("content_type", ...), ("isp", None), ("isp", ""), ("asn", -1), ("asn", 4_294_967_296), ("asn", "7922"),
    ("asn", 7922.0), ("cdn", ["a"]), ("arms", {"abr": "b"}), ("arms", None), ("rebuffer_count", 0), ("rebuffer_count", -1),
    ("rebuffer_count", 1_000_001), ("rebuffer_s", -0.1), ("rebuffer_s", 0), ("errors", 1.5), ("errors", False),
    ("startup_s", None), ("startup_s", -1.0), ("startup_s", 0), ("live_latency_s", None), ("unknown_field", 1),
    ("playhead_s", ...), ("buffer_s", 600.5), ("buffer_s", 600), ("bitrate_kbps", 200_000.5), ("bitrate_kbps", ...),
    ("resolution_height", 720.0), ("resolution_height", 8641), ("resolution_height", None), ("rendition", ""),
    ("throughput_kbps", 1e8), ("dropped_frames", -1), ("cmcd", None), ("cmcd", "br=3000"), ("cmcd", {}),
    ("started_at", START_EPOCH_S + 400.0), ("outcome", "completed"), ("outcome", "exit_before_video_start"),
    ("outcome", "crashed"), ("failure_reason", None), ("play_s", -1), ("rebuffering_ratio", 1.5),
    ("rebuffering_ratio", None), ("avg_bitrate_kbps", 300_000.0), ("avg_resolution_height", 9000.0),
    ("chunk_qoe_mean", float("nan")), ("chunk_qoe_mean", 3),
]
_CMCD_MUTATIONS: list[tuple[str, Any]] = [
    ("br", -1), ("br", 3000.0), ("br", True), ("bl", 10_000_001), ("bs", 1), ("cid", "other"), ("cid", "x" * 65),
    ("sid", "other"), ("sid", None), ("ot", "vv"), ("pr", 100.5), ("pr", float("nan")), ("pr", True), ("sf", "x"),
    ("st", "v"), ("st", "x"), ("su", "true"), ("tb", -5), ("mtp", 100_000_001), ("nor", "n" * 513), ("newkey", 1),
    ("d", 2**70), ("br", ...), ("mtp", ...), ("bl", ...),
]


def _mutated() -> list[dict[str, Any]]:
    """Plain events and single-field mutations of them, plus CMCD-only fill-ins the model must do itself."""
    out = []
    for base in (HEARTBEAT, SESSION_END):
        out.append(copy.deepcopy(base))
        for name, value in _MUTATIONS:
            event = copy.deepcopy(base)
            if value is ...:
                event.pop(name, None)
            else:
                event[name] = value
            out.append(event)
        for name, value in _CMCD_MUTATIONS:
            event = copy.deepcopy(base)
            cmcd = event.setdefault("cmcd", {"sid": "s1", "cid": "m00001"})
            if value is ...:
                cmcd.pop(name, None)
            else:
                cmcd[name] = value
            out.append(event)
    for dropped in ("bitrate_kbps", "buffer_s", "throughput_kbps", "content_type"):  # CMCD fills these in
        out.append({k: v for k, v in HEARTBEAT.items() if k != dropped})
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same type (``375`` and ``375.0`` compare equal but are not what the model holds)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _line(base: dict[str, Any], **changes: str) -> str:
    """``base`` as a JSON line with fields replaced by raw JSON text (what ``json.dumps`` cannot write)."""
    text = json.dumps({k: v for k, v in base.items() if k not in changes})
    return text[:-1] + "".join(f', "{k}": {v}' for k, v in changes.items()) + "}"


_RAW_LINES: list[str | bytes] = [
    # JSON the compiled decoder and json read differently, or might: each must reach the validator or agree with it
    _line(HEARTBEAT, region='"us-east", "region": "eu-west"'),  # a duplicate key: the last one counts
    _line(HEARTBEAT, kind='"heartbeat", "kind": "session_end"'), _line(SESSION_END, kind='"session_end", "kind": "heartbeat"'),
    _line(HEARTBEAT, region='"us\u2028east"'), _line(HEARTBEAT, region='"us\teast"'), _line(HEARTBEAT, region='"us\u0000"'),
    _line(HEARTBEAT, cmcd='{"cid": "m00001", "nor": "a\ud800b"}'), _line(HEARTBEAT, cmcd='{"cid": "m00001", "nor": "a\tb"}'),
    _line(HEARTBEAT, cmcd='{"nor": "' + "\ud83d\ude00" * 512 + '"}'), _line(HEARTBEAT, cmcd='{"nor": "' + "😀" * 513 + '"}'),
    _line(HEARTBEAT, cmcd='{"nor": "' + "😀" * 512 + '"}'), _line(HEARTBEAT, cmcd='{"pr": 1e2}'), _line(HEARTBEAT, cmcd='{"pr": 1E-400}'),
    _line(HEARTBEAT, timestamp="17675712601234567890123456789"), _line(HEARTBEAT, timestamp="1767571260.00000000000000000001"),
    _line(HEARTBEAT, timestamp="1e400"), _line(HEARTBEAT, timestamp="-0.0"), _line(HEARTBEAT, playhead_s="-0"),
    _line(HEARTBEAT, timestamp="1.7976931348623157e308"), _line(HEARTBEAT, buffer_s="6e2"), _line(HEARTBEAT, buffer_s="600.0000000000001"),
    _line(HEARTBEAT, seq="18446744073709551616"), _line(HEARTBEAT, asn="4294967295"), _line(HEARTBEAT, asn="-0"),
    _line(HEARTBEAT, errors="1e0"), _line(HEARTBEAT, arms="{}"), _line(HEARTBEAT, cmcd='{"sid": null, "cid": null}'),
    "\ufeff" + json.dumps(HEARTBEAT), json.dumps(HEARTBEAT) + " x", json.dumps(HEARTBEAT).encode() + b"\xff",
    json.dumps(HEARTBEAT).replace('"us-east"', '"us-\xe9ast"').encode("latin-1"), " " + json.dumps(SESSION_END) + "\r\n",
]


def _lines() -> list[str | bytes]:
    return [json.dumps(event) for event in _mutated()] + _RAW_LINES


def test_the_fast_path_accepts_only_what_the_validator_accepts_with_the_same_values() -> None:
    accepted_fast = 0
    for line in _lines():
        record = fast_record(line)
        model, reason = parse_event(line)
        if record is None:
            continue
        accepted_fast += 1
        assert model is not None, (line, reason)
        expected = model.__dict__
        assert {*record.__struct_fields__, "kind"} == expected.keys(), line
        for name, value in expected.items():
            got = getattr(record, name)
            if name == "cmcd":  # the detector never reads CMCD; the keys and values sent are the model's
                assert (None if value is None else value.model_dump(exclude_unset=True)) == \
                    (None if got is None else msgspec.to_builtins(got)), line
                continue
            assert _same(got, value), (name, got, value, line)
    # The plain events (and the many harmless mutations) do take the fast path: it is not a path never taken.
    assert fast_record(json.dumps(HEARTBEAT)) is not None and fast_record(json.dumps(SESSION_END)) is not None
    assert accepted_fast >= 40, accepted_fast


def test_a_constraint_the_compiled_decoder_cannot_check_fails_at_import_not_silently() -> None:
    """The structs are derived from the models: a new kind of constraint must be taught, never dropped."""
    from pydantic import BaseModel, Field

    class Stepped(BaseModel):
        kind: Literal["heartbeat"] = "heartbeat"
        step: Annotated[int, Field(multiple_of=5)]

    class OtherPattern(BaseModel):
        kind: Literal["heartbeat"] = "heartbeat"
        code: Annotated[str, Field(pattern=r"^[a-z]+$")]

    for model in (Stepped, OtherPattern):
        with pytest.raises(TypeError, match="compiled decoder"):
            schema_v2._struct(model, "heartbeat")


def test_parse_record_refuses_with_the_validators_reason() -> None:
    for line in _lines():  # NaN and Infinity are written as json writes them: msgspec refuses, json decides
        record, reason = parse_record(line)
        model, expected = parse_event(line)
        assert (record is None) == (model is None), (line, reason, expected)
        assert reason == expected
    for raw in (b"{not json", b"\xff\xfe", "[1, 2]", "null", '{"kind": "heartbeat"}', "1e400"):
        assert parse_record(raw)[1] == parse_event(raw)[1]


def _stream_with_bad_events() -> list[str]:
    """An incident (one device class crashing mid-stream from T0) and every kind of bad event, as JSONL lines."""
    groups = {"region": ["zz-north", "zz-south", "zz-east"], "device_class": ["fridge", "car", "watch"],
              "app_version": ["9.8", "9.9"]}
    crash = lambda t, d: {"crash": 0.3} if t >= T0 and d["device_class"] == "fridge" else {}  # noqa: E731
    events = steady_stream(30, 50, seed=11, groups=groups, effect=crash)
    lines: list[str] = []
    for i, event in enumerate(events):
        lines.append(json.dumps(event))
        if i % 97 == 5:
            lines.append(json.dumps(event))  # duplicate
        if i % 131 == 7:
            lines.append(json.dumps({**event, "timestamp": event["timestamp"] + 3600.0, "seq": 10_000 + i}))  # future
        if i % 149 == 9:
            lines.append(json.dumps({**event, "schema_version": 7}))
        if i % 173 == 11:
            lines.append(json.dumps({k: v for k, v in event.items() if k != "edge"}))  # missing dimension
        if i % 211 == 13:
            lines.append(json.dumps({**event, "timestamp": event["timestamp"] - 900.0, "seq": 20_000 + i}))  # past
        if i % 251 == 17:
            lines.append(json.dumps({**event, "bitrate_kbps": -1.0}))  # invalid field
        if i % 307 == 19:
            lines.append("{truncated")
        if i % 401 == 23 and event["kind"] == "heartbeat":  # a version-1 beat: up-converted by the validator
            v1 = {k: v for k, v in event.items() if k not in ("schema_version", "device_class", "seq")}
            lines.append(json.dumps({**v1, "device": event["device_class"], "session_id": f"{event['session_id']}-v1"}))
        if i % 443 == 29:  # an int where a float goes, a NaN the validator refuses
            lines.append(json.dumps({**event, "timestamp": int(event["timestamp"]), "seq": 30_000 + i}))
            lines.append(json.dumps({**event, "startup_s": float("nan"), "seq": 40_000 + i}))
    return lines


def test_batch_and_one_event_at_a_time_give_identical_alerts_and_refusal_counters() -> None:
    lines = _stream_with_bad_events()
    alerts, counts = detect_lines(line.encode() for line in lines)

    det = EbDetector()
    refused: Counter[str] = Counter()
    for line in lines:  # the stream's path: the validator's model, one event at a time
        event, reason = parse_event(line)
        if event is not None:
            reason = det.ingest(event)[0]
        if reason is not None:
            refused[reason.split(":", 1)[0]] += 1
    one_by_one = det.flush()

    assert [a.model_dump() for a in alerts] == [a.model_dump() for a in one_by_one]
    assert ("device_class", "fridge") in {(a.dimension, a.value) for a in alerts}, "the incident must page"
    assert {k: v for k, v in counts.items() if k not in ("accepted", "refused") and not k.startswith(("groups", "sessions",
            "units", "windows"))} == dict(refused)
    assert counts["accepted"] == det.counters["accepted"] and counts["refused"] == sum(refused.values())
    for reason in ("duplicate", "future timestamp", "past timestamp", "unknown schema_version", "missing dimension",
                   "invalid field", "invalid JSON"):
        assert refused[reason] > 0, (reason, refused)


@pytest.mark.parametrize("event", [HEARTBEAT, SESSION_END])
def test_a_record_and_its_model_make_the_same_detector_state(event: dict[str, Any]) -> None:
    """The detector reads a fast-path dict and a model alike (one decision logic): same unit, same key, same dims."""
    by_record, by_model = EbDetector(), EbDetector()
    record = fast_record(json.dumps(event))
    model, _ = parse_event(copy.deepcopy(event))
    assert record is not None and model is not None
    by_record.ingest(record)
    by_model.ingest(model)
    assert by_record.open_rows == by_model.open_rows
    assert [by_record.tuples[i] for i in by_record.open_dims] == [by_model.tuples[i] for i in by_model.open_dims]
    assert list(by_record.dedup) == list(by_model.dedup) and by_record.sessions.sessions == by_model.sessions.sessions
