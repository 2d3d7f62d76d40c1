"""One playback session: decide, fetch a real segment through the shaper, update the buffer, repeat.

The buffer model is the simulator's, on the trace's clock (:mod:`streaming.headless.shaper`):
before the first segment arrives nothing plays (that wait is the startup time); afterwards a
download longer than the buffer stalls playback for the difference (rebuffering); the player
sleeps while the buffer is above the cap. Decisions take real time (an HTTP round trip to the
model server, or a local call), counted unscaled on the trace clock, because a real player's
buffer drains while it waits for its decision. Per-chunk QoE is :func:`models.abr.qoe.chunk_qoe`
over the rungs' bitrates; the first chunk is excluded from the session score, as in the
benchmark (:func:`models.abr.qoe.score_trace`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from models.abr.qoe import TraceScore, chunk_qoe, score_trace
from models.abr.traces import Trace
from pipelines.errors import StreamlabError
from serving.abr import AbrDecideRequest, Rung, ThroughputSample
from streaming.headless.manifest import PlayerTitle
from streaming.headless.policies import AbrPolicy
from streaming.headless.settings import HeadlessSettings
from streaming.headless.shaper import Shaper


class SegmentFetchError(StreamlabError):
    """A segment request failed: the session cannot continue."""


@dataclass(frozen=True)
class ChunkRecord:
    index: int
    rung: int
    bitrate_kbps: float
    bytes: int
    download_s: float
    decide_ms: float
    buffer_s: float
    """Buffer after the chunk arrived."""
    rebuffer_s: float
    qoe: float
    source: str
    reason: str


@dataclass
class SessionResult:
    policy: str
    trace: str
    startup_s: float
    chunks: list[ChunkRecord] = field(default_factory=list)
    score: TraceScore | None = None
    failed_requests: int = 0
    error: str | None = None

    @property
    def rebuffer_s(self) -> float:
        return sum(c.rebuffer_s for c in self.chunks)

    def decisions(self, source: str) -> int:
        return sum(1 for c in self.chunks if c.source == source)


ChunkHook = Callable[[ChunkRecord], None]


def request_for(
    title: PlayerTitle,
    index: int,
    last_rung: int,
    buffer_s: float,
    samples: list[ThroughputSample],
    session_id: str | None,
) -> AbrDecideRequest:
    return AbrDecideRequest(
        buffer_s=buffer_s,
        last_rung=last_rung,
        chunks_remaining=title.segment_count - index,
        segment_duration_s=title.segment_duration_s,
        samples=samples,
        ladder=[Rung(bitrate_kbps=r.bitrate_kbps) for r in title.rungs],
        session_id=session_id,
    )


def fetch(client: httpx.Client, url: str, shaper: Shaper, chunk_bytes: int):
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise SegmentFetchError(f"{url}: HTTP {response.status_code}")
            return shaper.pace(response.iter_bytes(chunk_bytes))
    except httpx.HTTPError as exc:
        raise SegmentFetchError(f"{url}: {type(exc).__name__}: {exc}") from None


def play_session(
    title: PlayerTitle,
    trace: Trace,
    policy: AbrPolicy,
    settings: HeadlessSettings,
    *,
    start_s: float = 0.0,
    client: httpx.Client | None = None,
    on_chunk: ChunkHook | None = None,
    session_id: str | None = None,
) -> SessionResult:
    """Play ``title`` start to end over ``trace`` (starting ``start_s`` into it) with ``policy``."""
    own_client = client is None
    client = client or httpx.Client(trust_env=False, timeout=settings.http_timeout_s)
    shaper = Shaper(trace, settings.time_scale, settings.link_rtt_s, start_s)
    result = SessionResult(policy.name, trace.name, startup_s=0.0)
    samples: list[ThroughputSample] = []
    buffer_s, last_rung, started = 0.0, 0, False
    have_init: set[int] = set()
    last_bitrate: float | None = None
    try:
        for index in range(title.segment_count):
            t0 = time.perf_counter()
            choice = policy.choose(
                request_for(title, index, last_rung, buffer_s, samples[-settings.max_samples :], session_id)
            )
            decide_s = time.perf_counter() - t0
            shaper.advance(decide_s)
            rung = title.rungs[choice.rung]
            elapsed_s = decide_s
            if choice.rung not in have_init:  # a new rung's init segment costs a download too
                elapsed_s += fetch(client, rung.init_url, shaper, settings.read_chunk_bytes).transfer_s
                have_init.add(choice.rung)
            download = fetch(client, rung.segment_urls[index], shaper, settings.read_chunk_bytes)
            elapsed_s += download.transfer_s
            if started:
                rebuffer_s = max(elapsed_s - buffer_s, 0.0)
                buffer_s = max(buffer_s - elapsed_s, 0.0)
            else:
                rebuffer_s = 0.0
                result.startup_s += elapsed_s
                started = True
            buffer_s += rung.segment_durations_s[index]
            bitrate = rung.bitrate_kbps
            record = ChunkRecord(
                index,
                choice.rung,
                bitrate,
                download.bytes,
                download.transfer_s,
                decide_s * 1000.0,
                buffer_s,
                rebuffer_s,
                chunk_qoe(bitrate, bitrate if last_bitrate is None else last_bitrate, rebuffer_s),
                choice.source,
                choice.reason,
            )
            result.chunks.append(record)
            samples.append(
                ThroughputSample(bytes=max(download.bytes, 1), download_ms=max(download.transfer_s * 1000.0, 0.001))
            )
            last_rung, last_bitrate = choice.rung, bitrate
            if on_chunk is not None:
                on_chunk(record)
            if buffer_s > settings.buffer_cap_s:
                shaper.idle(buffer_s - settings.buffer_cap_s)
                buffer_s = settings.buffer_cap_s
    except SegmentFetchError as exc:
        result.failed_requests += 1
        result.error = str(exc)
    finally:
        if own_client:
            client.close()
    if len(result.chunks) >= 2:
        result.score = score_trace(
            [c.bitrate_kbps for c in result.chunks],
            [c.rebuffer_s for c in result.chunks],
            [c.qoe for c in result.chunks],
            chunk_s=title.segment_duration_s,
        )
    return result
