"""One playback session: decide, fetch a real segment through the shaper, update the buffer, repeat.

The buffer model is the simulator's, on the trace's clock (:mod:`streamlab.streaming.headless.shaper`):
before the first segment arrives nothing plays (that wait is the startup time); afterwards a
download longer than the buffer stalls playback for the difference (rebuffering); the player
sleeps while the buffer is above the cap. Decisions take real time (an HTTP round trip to the
model server, or a local call), counted unscaled on the trace clock, because a real player's
buffer drains while it waits for its decision. Per-chunk QoE is :func:`streamlab.models.abr.qoe.chunk_qoe`
over the rungs' bitrates; the first chunk is excluded from the session score, as in the
benchmark (:func:`streamlab.models.abr.qoe.score_trace`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import httpx

from streamlab.models.abr.decide import AbrDecideRequest, Rung, ThroughputSample
from streamlab.models.abr.qoe import TraceScore, chunk_qoe, score_trace
from streamlab.models.abr.traces import Trace
from streamlab.core.errors import StreamlabError
from streamlab.streaming.experiment.edge import ARMS_HEADER
from streamlab.streaming.headless.manifest import PlayerTitle
from streamlab.streaming.headless.policies import AbrPolicy
from streamlab.streaming.headless.settings import HeadlessSettings
from streamlab.streaming.headless.shaper import Download, EdgeStalled, Shaper


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
    edge_lag_ms: float = 0.0
    """How far (wall ms) the slowest byte of this chunk trailed the shaped link (see ``Download.lag_s``)."""
    arms: str | None = None
    """The edge's ``X-Streamlab-Arms`` on this segment's response: the viewer's experiment arms, as the
    viewer-request hook assigned them from the viewer id the player sent (``None``: no experiment)."""


@dataclass
class SessionResult:
    policy: str
    trace: str
    startup_s: float
    chunks: list[ChunkRecord] = field(default_factory=list)
    score: TraceScore | None = None
    failed_requests: int = 0
    error: str | None = None
    started_wall_s: float = 0.0
    ended_wall_s: float = 0.0
    """Wall clock (``time.monotonic``) of the session's start and end, set by the runner."""

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
    horizon: int = 5,
) -> AbrDecideRequest:
    """The player's state as ``abr/decide`` takes it; the ladder carries the next ``horizon``
    chunks' sizes as the manifest states them (:func:`streamlab.streaming.headless.manifest.segment_sizes`)."""
    return AbrDecideRequest(
        buffer_s=buffer_s,
        last_rung=last_rung,
        chunks_remaining=title.segment_count - index,
        segment_duration_s=title.segment_duration_s,
        samples=samples,
        ladder=[
            Rung(bitrate_kbps=r.bitrate_kbps, chunk_sizes_bytes=list(r.segment_sizes_bytes[index : index + horizon]) or None)
            for r in title.rungs
        ],
        session_id=session_id,
    )


INIT_BOXES = frozenset({b"ftyp"})
MEDIA_BOXES = frozenset({b"styp", b"moof", b"sidx", b"emsg", b"prft"})
"""ISO BMFF boxes a CMAF init (``ftyp``) or media segment (``styp``/``moof``/…) starts with (ISO/IEC 23000-19)."""


def checked_cmaf(chunks: Iterator[bytes], url: str, init: bool) -> Iterator[bytes]:
    """Pass the body through, refusing one whose first box is not what a CMAF demuxer expects.

    A player's demuxer rejects such a segment before playing it; checking the first box (8
    bytes) catches an error page, a truncated upload or the wrong file served under the URL
    without decoding anything.
    """
    head = b""
    for chunk in chunks:
        if len(head) < 8:
            head += chunk[: 8 - len(head)]
            if len(head) >= 8 and head[4:8] not in (INIT_BOXES if init else MEDIA_BOXES):
                kind = "init segment" if init else "media segment"
                raise SegmentFetchError(f"{url}: not a CMAF {kind} (first box {head[4:8]!r})")
        yield chunk
    if len(head) < 8:
        raise SegmentFetchError(f"{url}: {len(head)} bytes is no CMAF segment")


def fetch(client: httpx.Client, url: str, shaper: Shaper, chunk_bytes: int, *, init: bool = False,
          max_lag_s: float = float("inf")) -> Download:
    """GET ``url`` through the shaper; any failure (status, transport, timeout, bad body, an edge
    far behind the link) is a :class:`SegmentFetchError` naming the URL."""
    started_wall = time.monotonic()
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise SegmentFetchError(f"{url}: HTTP {response.status_code}")
            body = checked_cmaf(response.iter_bytes(chunk_bytes), url, init)
            return replace(shaper.pace(body, started_wall, max_lag_s), arms=response.headers.get(ARMS_HEADER))
    except httpx.HTTPError as exc:
        raise SegmentFetchError(f"{url}: {type(exc).__name__}: {exc}") from None
    except EdgeStalled as exc:
        raise SegmentFetchError(f"{url}: edge stalled: {exc}") from None


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
            lag_s = 0.0
            if choice.rung not in have_init:  # a new rung's init segment costs a download too
                init = fetch(client, rung.init_url, shaper, settings.read_chunk_bytes, init=True,
                             max_lag_s=settings.http_timeout_s)
                elapsed_s += init.transfer_s
                lag_s = init.lag_s
                have_init.add(choice.rung)
            download = fetch(client, rung.segment_urls[index], shaper, settings.read_chunk_bytes,
                             max_lag_s=settings.http_timeout_s)
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
                max(lag_s, download.lag_s) * 1000.0,
                download.arms,
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
