"""QoE beacons from headless sessions: the telemetry a real player sends, built from what it played.

A :class:`BeaconEmitter` follows one session through :func:`~streamlab.streaming.headless.player.play_session`'s
``on_chunk`` hook and emits what a web player emits (``streamlab.models.qoe.telemetry``): a heartbeat every
``heartbeat_every_s`` of session time with counters cumulative since the start, and one session
summary at the end (failed sessions included, with their reason). Timestamps are *session* time:
``started_at`` plus wall time multiplied by the shaper's ``time_scale``, so a trace replayed ten
times faster still produces telemetry on the trace's clock, which is what the detector's windows
and baselines are in.

Events go to a :class:`BeaconSink`: every event is appended to a local JSONL file first (the
record the batch detector reads; nothing is lost when the service is down), then posted in small
batches to ``qoe/ingest`` within a timeout budget. A failed post is counted, never retried in the
player's path: the file already holds the events.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from streamlab.models.qoe.telemetry import MAX_ARMS, TOKEN_PATTERN, Heartbeat, SessionSummary
from streamlab.streaming.experiment.edge import parse_header
from streamlab.streaming.headless.player import ChunkRecord, SessionResult


@dataclass(frozen=True)
class ViewerContext:
    """Who is watching, where: the group keys the QoE detector aggregates over."""

    viewer_id: str
    session_id: str
    title_id: str
    device: str
    region: str
    edge: str


class BeaconSink:
    """Appends events to ``path`` (JSONL) and posts them to ``ingest_url`` (if any) within ``timeout_s``.

    Thread-safe: many sessions share one sink. ``counts`` tells how many events were written,
    posted and not posted (the fallback: the file keeps them for the batch detector).
    """

    def __init__(self, path: Path, ingest_url: str | None = None, timeout_s: float = 0.5) -> None:
        self.path = path
        self.ingest_url = ingest_url
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._client = httpx.Client(trust_env=False, timeout=timeout_s) if ingest_url else None
        self.counts: Counter[str] = Counter()
        self.alerts: list[dict[str, Any]] = []

    def send(self, events: list[Heartbeat | SessionSummary]) -> None:
        if not events:
            return
        rows = [e.model_dump(mode="json", exclude_none=True) for e in events]
        with self._lock:
            for row in rows:
                self._file.write(json.dumps(row, separators=(",", ":")) + "\n")
            self._file.flush()
            self.counts["written"] += len(rows)
        if self._client is None:
            return
        try:
            response = self._client.post(self.ingest_url, json=rows)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            with self._lock:
                self.counts["post_failed"] += len(rows)
                self.counts[f"post_failed:{type(exc).__name__}"] += 1
            return
        with self._lock:
            self.counts["posted"] += len(rows)
            self.alerts.extend(body.get("alerts", []) if isinstance(body, dict) else [])

    def close(self) -> None:
        with self._lock:
            self._file.close()
        if self._client is not None:
            self._client.close()


_TOKEN = re.compile(TOKEN_PATTERN)


def edge_arms(header: str) -> dict[str, str]:
    """The ``X-Streamlab-Arms`` value as the beacon's ``arms``: pairs that are not telemetry tokens are
    dropped (a beacon that the schema refuses would lose the whole session's telemetry)."""
    pairs = [(k, v) for k, v in parse_header(header).items() if _TOKEN.fullmatch(k) and _TOKEN.fullmatch(v)]
    return dict(pairs[:MAX_ARMS])


class BeaconEmitter:
    """One session's heartbeats and summary; pass :meth:`on_chunk` as ``play_session(on_chunk=...)``."""

    def __init__(
        self,
        viewer: ViewerContext,
        sink: BeaconSink,
        started_at: float,
        time_scale: float,
        heartbeat_every_s: float = 10.0,
        segment_duration_s: float | None = None,
    ) -> None:
        self.viewer = viewer
        self.sink = sink
        self.started_at = started_at
        self.time_scale = time_scale
        self.heartbeat_every_s = heartbeat_every_s
        self.segment_duration_s = segment_duration_s
        self._wall0 = time.perf_counter()
        self._next_heartbeat = started_at + heartbeat_every_s
        self._startup_s: float | None = None
        self._rebuffers = 0
        self._rebuffer_s = 0.0
        self._switches = 0
        self._last_rung: int | None = None
        self._played_s = 0.0
        self._bits = 0.0
        self._qoe: list[float] = []
        self._last: ChunkRecord | None = None
        self.arms: dict[str, str] = {}
        """The session's experiment arms, as the edge stated them on its responses (``X-Streamlab-Arms``):
        every beacon carries them, so the report can credit the session to its arm without a harness's log."""

    def now(self) -> float:
        """Session time: ``started_at`` plus wall time since the start, on the trace's clock."""
        return self.started_at + (time.perf_counter() - self._wall0) * self.time_scale

    def on_chunk(self, record: ChunkRecord) -> None:
        if record.arms:
            self.arms = edge_arms(record.arms)
        if self._startup_s is None:
            self._startup_s = max(self.now() - self.started_at, 0.0)
        if record.rebuffer_s > 0:
            self._rebuffers += 1
            self._rebuffer_s += record.rebuffer_s
        if self._last_rung is not None and record.rung != self._last_rung:
            self._switches += 1
        self._last_rung = record.rung
        self._last = record
        self._qoe.append(record.qoe)
        self._bits += record.bitrate_kbps
        self._played_s = max(self.now() - self.started_at - self._startup_s - self._rebuffer_s, 0.0)
        now = self.now()
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self.heartbeat_every_s
            self.sink.send([self._heartbeat(now, record)])

    def _heartbeat(self, now: float, record: ChunkRecord) -> Heartbeat:
        throughput_kbps = record.bytes * 8 / 1000 / max(record.download_s, 1e-3)
        return Heartbeat(
            **self._ids(now),
            playhead_s=self._played_s,
            buffer_s=min(record.buffer_s, 600.0),
            bitrate_kbps=record.bitrate_kbps,
            throughput_kbps=min(throughput_kbps, 10_000_000.0),
            startup_s=self._startup_s,
            rebuffer_count=self._rebuffers,
            rebuffer_s=self._rebuffer_s,
            bitrate_switches=self._switches,
        )

    def finish(self, result: SessionResult) -> SessionSummary:
        """Send the session summary (a failed session says why) and return it."""
        now = max(self.now(), self.started_at)
        failed = result.error is not None
        chunks = len(self._qoe)
        # The player stops fetching with a full buffer still to play: what it delivered is what plays.
        play_s = chunks * self.segment_duration_s if self.segment_duration_s and not failed else self._played_s
        summary = SessionSummary(
            **self._ids(now),
            started_at=self.started_at,
            # The player's startup on the link's clock: the wall-clock one (heartbeats) stretches on a loaded machine.
            startup_s=result.startup_s if chunks else None,
            play_s=play_s,
            rebuffer_count=self._rebuffers,
            rebuffer_s=self._rebuffer_s,
            bitrate_switches=self._switches,
            avg_bitrate_kbps=self._bits / chunks if chunks else 0.0,
            errors=result.failed_requests,
            playback_failed=failed,
            failure_reason="segment_fetch_failed" if failed else None,
            chunk_qoe_mean=sum(self._qoe) / chunks if chunks else None,
        )
        self.sink.send([summary])
        return summary

    def _ids(self, now: float) -> dict[str, Any]:
        v = self.viewer
        return {
            "viewer_id": v.viewer_id,
            "session_id": v.session_id,
            "title_id": v.title_id,
            "timestamp": now,
            "device": v.device,
            "region": v.region,
            "edge": v.edge,
            "arms": dict(self.arms) or None,
        }
