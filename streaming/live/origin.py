"""The live origin: LL-HLS playlists with blocking reload and delta updates, parts as they appear.

URL scheme (one channel per origin; the channel name is in the path so the delivery origin's
``/live/<channel>/`` route reaches it unchanged, and viewers use the same paths at the edge):

``GET /live/<channel>/master.m3u8``                 multivariant playlist
``GET /live/<channel>/<rung>/playlist.m3u8``        media playlist; ``_HLS_msn``/``_HLS_part``
                                                    block until that part exists (bounded: 503
                                                    after ``block_timeout_targets`` target
                                                    durations), ``_HLS_skip=YES`` a delta update
``GET /live/<channel>/<rung>/<init|seg|part>``      media (``audio`` is a rung here too); the preload-hinted next part is held
                                                    until it is written (same bound), then sent;
                                                    a segment still being written (or the next
                                                    one) is sent chunk by chunk as its parts
                                                    appear (chunked transfer, for LL-DASH)
``GET /live/<channel>/manifest.mpd``                LL-DASH MPD over the same segments (:mod:`.mpd`)
``GET /live/<channel>/time``                        the origin's clock (ISO 8601): the MPD's UTCTiming
``GET /metrics``                                    Prometheus text: requests by kind (what the
                                                    edge's coalescing saves is counted here) and
                                                    the channel's health alerts
``GET /healthz``                                    liveness

Cache policy: playlists briefly (``playlist_cache_control``), answers to a blocking request
longer (``blocked_cache_control``: the URL names a state that never changes), media immutable.
A blocking request for a version already passed (a viewer retrying after an outage, or behind
the live edge) is answered at once with the current playlist, which is *not* the state its URL
names: it gets the plain playlist's short policy, or every viewer retrying that URL over the next
6 s would get this one snapshot from the tiers, start seconds behind the live edge and stay there.
Errors say ``error_cache_control`` (``no-cache``): never stored by a tier, but shared with the
requests coalesced onto the one that got it, so 50 viewers blocked on a part that never comes
cost one upstream wait, not 50 consecutive ones.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from streamlab.streaming.live.mpd import MPD_TYPE, DashTiming, iso_time, live_mpd
from streamlab.streaming.live.playlist import ServerControl, media_playlist, multivariant_playlist, rendition_reports
from streamlab.streaming.live.settings import LiveOriginSettings, LiveRung
from streamlab.streaming.live.timeline import RungTimeline

if TYPE_CHECKING:
    from streamlab.streaming.live.drm import LiveProtection

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
_MEDIA_NAME = re.compile(r"^(?:init\d+\.mp4|seg(\d+)(?:\.(\d+))?\.m4s)\Z")
MEDIA_TYPES = {".mp4": "video/mp4", ".m4s": "video/iso.segment"}
"""The audio rendition's files are served with the same types: CMAF media segments either way."""
PART_WRITTEN_AT_HEADER = "X-Part-Written-At"
"""On parts and segments read from disk: when the file appeared (unix seconds, the file's mtime),
so a client anywhere can time delivery from the part's availability to its own last byte."""
ADVANCE_SEGMENT_LIMIT = 2
"""The spec: a request more than two segments ahead of the playlist is answered 400 at once."""


class SegmentAborted(Exception):
    """A segment sent while being written cannot be finished: the connection is cut, so no cache
    and no player mistakes the part already sent for the whole segment."""


class Notifier:
    """Wakes every waiter when the channel's timelines change (one event per change, no polling)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, ready: Callable[[], bool], timeout_s: float) -> bool:
        """True as soon as ``ready()`` holds; False after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not ready():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            event = self._event
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return ready()
        return True


class LiveChannelView(Protocol):
    """What the origin reads from a running channel."""

    name: str
    folder: Path
    rungs: list[LiveRung]
    timelines: dict[str, RungTimeline]
    control: ServerControl
    notifier: Notifier
    fps: int
    audio_kbps: int | None
    """The audio rendition's bitrate (its timeline is ``timelines["audio"]``); None: video only."""
    protection: LiveProtection | None
    """An encrypted channel's key signalling (``live start --drm clearkey``); None: in the clear."""


REQUEST_KINDS = ("master", "playlist", "blocked_playlist", "media", "held_media", "streamed_segment", "mpd")


class LiveOrigin:
    def __init__(
        self, channel: LiveChannelView, settings: LiveOriginSettings, extra_metrics: Callable[[], str] | None = None
    ) -> None:
        self.channel = channel
        self.settings = settings
        self.block_timeout_s = settings.block_timeout_targets * channel.control.target_duration_s
        self.requests: Counter[str] = Counter()
        self.extra_metrics = extra_metrics

    def _error(self, status: int, message: str) -> Response:
        return PlainTextResponse(f"{message}\n", status, headers={"Cache-Control": self.settings.error_cache_control})

    def _rung(self, request: Request) -> RungTimeline | Response:
        if request.path_params["channel"] != self.channel.name:
            return self._error(404, f"not found: channel {request.path_params['channel']!r} is not on this origin")
        timeline = self.channel.timelines.get(request.path_params["rung"])
        if timeline is None:
            known = ", ".join(self.channel.timelines)
            return self._error(404, f"not found: rung {request.path_params['rung']!r} (this channel has {known})")
        return timeline

    async def master(self, request: Request) -> Response:
        if request.path_params["channel"] != self.channel.name:
            return self._error(404, f"not found: channel {request.path_params['channel']!r} is not on this origin")
        self.requests["master"] += 1
        codecs = {name: timeline.codecs for name, timeline in self.channel.timelines.items() if timeline.codecs}
        body = multivariant_playlist(self.channel.rungs, codecs, self.channel.fps, self.channel.audio_kbps)
        return Response(body, media_type=PLAYLIST_TYPE, headers={"Cache-Control": self.settings.playlist_cache_control})

    async def playlist(self, request: Request) -> Response:
        timeline = self._rung(request)
        if isinstance(timeline, Response):
            return timeline
        query = request.query_params
        try:
            msn = int(query["_HLS_msn"]) if "_HLS_msn" in query else None
            part = int(query["_HLS_part"]) if "_HLS_part" in query else None
        except ValueError:
            return self._error(400, "bad request: _HLS_msn and _HLS_part must be integers")
        skip = query.get("_HLS_skip")
        if skip not in (None, "YES", "v2"):
            return self._error(400, f"bad request: _HLS_skip={skip!r} (expected YES)")
        if part is not None and msn is None:
            return self._error(400, "bad request: _HLS_part needs _HLS_msn")
        if (msn is not None and msn < 0) or (part is not None and part < 0):
            return self._error(400, "bad request: _HLS_msn and _HLS_part must not be negative")
        cache_control = self.settings.playlist_cache_control
        self.requests["playlist" if msn is None else "blocked_playlist"] += 1
        if msn is not None:
            newest = timeline.last_part[0] if timeline.last_part else timeline.next_msn
            if msn > newest + ADVANCE_SEGMENT_LIMIT:
                return self._error(400, f"bad request: _HLS_msn={msn} is more than {ADVANCE_SEGMENT_LIMIT} segments past the live edge ({newest})")
            if part is None:
                ready = lambda: timeline.has_segment(msn)  # noqa: E731
            else:
                ready = lambda: timeline.has_part(msn, part)  # noqa: E731
            caught_up = ready()
            if not await self.channel.notifier.wait_until(ready, self.block_timeout_s):
                return self._error(503, f"service unavailable: segment {msn} part {part} did not appear within {self.block_timeout_s:.0f} s")
            if not caught_up or timeline.last_part == (msn, part):
                cache_control = self.settings.blocked_cache_control
        reports = rendition_reports(self.channel.timelines, timeline)
        key_tags = self.channel.protection.hls_key_tags if self.channel.protection else None
        body = media_playlist(timeline, self.channel.control, reports, skip=skip is not None, key_tags=key_tags)
        return Response(body, media_type=PLAYLIST_TYPE, headers={"Cache-Control": cache_control})

    async def media(self, request: Request) -> Response:
        timeline = self._rung(request)
        if isinstance(timeline, Response):
            return timeline
        name: str = request.path_params["name"]
        match = _MEDIA_NAME.match(name)
        if match is None:
            return self._error(404, f"not found: {name!r} is not a live media name (init<N>.mp4, seg<N>.m4s, seg<N>.<i>.m4s)")
        path = timeline.folder / name
        self.requests["media"] += 1
        if not path.is_file() and match.group(1) is not None and match.group(2) is None:
            streamed = await self._segment_in_progress(timeline, int(match.group(1)))
            if streamed is not None:
                return streamed
        if not path.is_file() and name == timeline.next_part_uri():
            self.requests["held_media"] += 1
            await self.channel.notifier.wait_until(path.is_file, self.block_timeout_s)
        headers = {"Cache-Control": self.settings.media_cache_control}
        try:
            if match.group(1) is not None:  # a part or a segment (an init segment is no live event)
                headers[PART_WRITTEN_AT_HEADER] = f"{path.stat().st_mtime:.6f}"
            body = path.read_bytes()
        except FileNotFoundError:
            return self._error(404, f"not found: {name} (outside the DVR window, or not written yet)")
        return Response(body, media_type=MEDIA_TYPES[path.suffix], headers=headers)

    async def _segment_in_progress(self, timeline: RungTimeline, msn: int) -> Response | None:
        """The open segment ``msn`` (or the next one, held until it opens), sent part by part as
        they are written; ``None`` when ``msn`` is neither (the caller answers from disk or 404).

        The body ends when the segment completes: then it is byte for byte the segment file (the
        concatenation of its parts), so the long media TTL holds. Should the transcoder stall past
        the block bound, the body is aborted (never a short segment that looks whole).
        """
        if timeline.segment(msn) is None:
            if msn != timeline.next_msn:
                return None
            if not await self.channel.notifier.wait_until(lambda: timeline.segment(msn) is not None, self.block_timeout_s):
                return None
        segment = timeline.segment(msn)
        if segment is None or segment.complete:
            return None
        self.requests["streamed_segment"] += 1

        async def chunks() -> AsyncIterator[bytes]:
            sent = 0
            while True:
                current = timeline.segment(msn)
                if current is None:
                    raise SegmentAborted(f"segment {msn} left the window while it was being sent")
                if sent < len(current.parts):
                    yield (timeline.folder / current.parts[sent].uri).read_bytes()
                    sent += 1
                    continue
                if current.complete:
                    return
                more = lambda: current.complete or len(current.parts) > sent  # noqa: E731
                if not await self.channel.notifier.wait_until(more, self.block_timeout_s):
                    raise SegmentAborted(f"segment {msn}: no part for {self.block_timeout_s:.0f} s")

        return StreamingResponse(chunks(), media_type=MEDIA_TYPES[".m4s"], headers={"Cache-Control": self.settings.media_cache_control})

    async def mpd(self, request: Request) -> Response:
        if request.path_params["channel"] != self.channel.name:
            return self._error(404, f"not found: channel {request.path_params['channel']!r} is not on this origin")
        self.requests["mpd"] += 1
        lead = self.channel.timelines[self.channel.rungs[0].name]
        timing = DashTiming(
            segment_s=lead.segment_s, part_target_s=self.channel.control.part_target_s, dvr_window_s=lead.dvr_window_s,
            target_latency_s=self.settings.dash_target_latency_s, min_update_s=self.settings.dash_min_update_s,
        )
        protection = self.channel.protection.dash_elements if self.channel.protection else None
        body = live_mpd(self.channel.rungs, self.channel.timelines, self.channel.fps, timing, time.time(),
                        self.channel.audio_kbps, protection)
        if body is None:
            return self._error(503, "service unavailable: the channel has no segment yet")
        return Response(body, media_type=MPD_TYPE, headers={"Cache-Control": self.settings.playlist_cache_control})

    async def clock(self, request: Request) -> Response:
        return PlainTextResponse(iso_time(time.time()), headers={"Cache-Control": "no-store"})

    async def metrics(self, request: Request) -> Response:
        lines = [
            "# HELP streamlab_live_origin_requests_total Requests the live origin answered, by kind "
            "(blocked_playlist: _HLS_msn given; held_media: the preload-hinted part, waited for).",
            "# TYPE streamlab_live_origin_requests_total counter",
            *(f'streamlab_live_origin_requests_total{{kind="{kind}"}} {self.requests[kind]}' for kind in REQUEST_KINDS),
        ]
        text = "\n".join(lines) + "\n" + (self.extra_metrics() if self.extra_metrics else "")
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8", headers={"Cache-Control": "no-store"})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "channel": self.channel.name}, headers={"Cache-Control": "no-store"})


def create_live_origin_app(
    channel: LiveChannelView, settings: LiveOriginSettings, extra_metrics: Callable[[], str] | None = None
) -> Starlette:
    """``extra_metrics`` appends Prometheus text to ``/metrics`` (the channel's health alerts)."""
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware

    origin = LiveOrigin(channel, settings, extra_metrics)
    return Starlette(
        routes=[
            Route("/live/{channel}/master.m3u8", origin.master, methods=["GET", "HEAD"]),
            Route("/live/{channel}/manifest.mpd", origin.mpd, methods=["GET", "HEAD"]),
            Route("/live/{channel}/time", origin.clock, methods=["GET", "HEAD"]),
            Route("/live/{channel}/{rung}/playlist.m3u8", origin.playlist, methods=["GET", "HEAD"]),
            Route("/live/{channel}/{rung}/{name}", origin.media, methods=["GET", "HEAD"]),
            Route("/metrics", origin.metrics, methods=["GET"]),
            Route("/healthz", origin.health, methods=["GET", "HEAD"]),
        ],
        middleware=[Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD"], expose_headers=["Age", PART_WRITTEN_AT_HEADER])],
    )
