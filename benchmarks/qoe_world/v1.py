"""Down-convert this world's v2 events to telemetry version 1, for a detector that reads only v1.

Version 1 (SCHEMA.md "Version 1") has no optional dimensions, no outcomes and no CMCD: the
session_end says only ``playback_failed``. An exit before the first frame can then only be written
as a failure (``failure_reason: exit_before_video_start``), which is exactly the loss the issue
describes. The fields kept were found from the detector's own refusal reasons, not its code: v1
refuses every v2 dimension and ``live_latency_s``, and keeps ``bitrate_switches`` and ``errors``.
"""

from __future__ import annotations

import json
from pathlib import Path

V2_ONLY: frozenset[str] = frozenset({
    "schema_version", "content_type", "isp", "asn", "cdn", "pathway", "app_version", "player_version",
    "os", "device_model", "connection_type", "cmcd", "event_id", "seq", "resolution_height", "rendition",
    "dropped_frames", "live_latency_s", "outcome", "avg_resolution_height",
})
FAILED = {"video_start_failure", "video_playback_failure", "exit_before_video_start"}


def to_v1(event: dict) -> dict:
    """One v2 event as v1."""
    v1 = {k: v for k, v in event.items() if k not in V2_ONLY}
    v1["device"] = v1.pop("device_class")
    if event["kind"] == "session_end":
        failed = event["outcome"] in FAILED
        v1["playback_failed"] = failed
        if failed:
            v1["failure_reason"] = event.get("failure_reason", event["outcome"])
        v1.setdefault("avg_bitrate_kbps", 0.0)
    else:
        v1.setdefault("throughput_kbps", 0.0)
    return v1


def convert_file(src: Path, dst: Path) -> int:
    """Stream-convert a JSONL file; returns the number of events written."""
    n = 0
    with src.open() as inp, dst.open("w") as out:
        for line in inp:
            out.write(json.dumps(to_v1(json.loads(line)), separators=(",", ":")) + "\n")
            n += 1
    return n
