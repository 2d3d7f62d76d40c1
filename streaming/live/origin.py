"""The live origin: LL-HLS playlists with blocking reload and delta updates, parts as they appear.

URL scheme (one channel per origin for now; the channel name is in the path so a shared origin
and the edge tiers can route on it later):

``GET /live/<channel>/master.m3u8``                 multivariant playlist
``GET /live/<channel>/<rung>/playlist.m3u8``        media playlist; ``_HLS_msn``/``_HLS_part``
                                                    block until that part exists (bounded: 503
                                                    after ``block_timeout_targets`` target
                                                    durations), ``_HLS_skip=YES`` a delta update
``GET /live/<channel>/<rung>/<init|seg|part>``      media; the preload-hinted next part is held
                                                    until it is written (same bound), then sent
``GET /healthz``                                    liveness

Cache policy: playlists briefly (``playlist_cache_control``), answers to a blocking request
longer (``blocked_cache_control``: the URL names a state that never changes), media immutable.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from streamlab.streaming.live.playlist import ServerControl, media_playlist, multivariant_playlist
from streamlab.streaming.live.settings import LiveOriginSettings, LiveRung
from streamlab.streaming.live.timeline import RungTimeline

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
_MEDIA_NAME = re.compile(r"^(?:init\d+\.mp4|seg(\d+)(?:\.(\d+))?\.m4s)\Z")
ADVANCE_SEGMENT_LIMIT = 2
"""The spec: a request more than two segments ahead of the playlist is answered 400 at once."""


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


class LiveOrigin:
    def __init__(self, channel: LiveChannelView, settings: LiveOriginSettings) -> None:
        self.channel = channel
        self.settings = settings
        self.block_timeout_s = settings.block_timeout_targets * channel.control.target_duration_s

    @staticmethod
    def _error(status: int, message: str) -> Response:
        return PlainTextResponse(f"{message}\n", status, headers={"Cache-Control": "no-store"})

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
        codecs = {name: timeline.codecs for name, timeline in self.channel.timelines.items() if timeline.codecs}
        body = multivariant_playlist(self.channel.rungs, codecs, self.channel.fps)
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
        if msn is not None:
            newest = timeline.last_part[0] if timeline.last_part else timeline.next_msn
            if msn > newest + ADVANCE_SEGMENT_LIMIT:
                return self._error(400, f"bad request: _HLS_msn={msn} is more than {ADVANCE_SEGMENT_LIMIT} segments past the live edge ({newest})")
            if part is None:
                ready = lambda: timeline.has_segment(msn)  # noqa: E731
            else:
                ready = lambda: timeline.has_part(msn, part)  # noqa: E731
            if not await self.channel.notifier.wait_until(ready, self.block_timeout_s):
                return self._error(503, f"service unavailable: segment {msn} part {part} did not appear within {self.block_timeout_s:.0f} s")
            cache_control = self.settings.blocked_cache_control
        reports = {
            f"../{name}/playlist.m3u8": other for name, other in self.channel.timelines.items() if other is not timeline
        }
        body = media_playlist(timeline, self.channel.control, reports, skip=skip is not None)
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
        if not path.is_file() and name == timeline.next_part_uri():
            await self.channel.notifier.wait_until(path.is_file, self.block_timeout_s)
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            return self._error(404, f"not found: {name} (outside the DVR window, or not written yet)")
        content_type = "video/mp4" if name.endswith(".mp4") else "video/iso.segment"
        return Response(body, media_type=content_type, headers={"Cache-Control": self.settings.media_cache_control})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "channel": self.channel.name}, headers={"Cache-Control": "no-store"})


def create_live_origin_app(channel: LiveChannelView, settings: LiveOriginSettings) -> Starlette:
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware

    origin = LiveOrigin(channel, settings)
    return Starlette(
        routes=[
            Route("/live/{channel}/master.m3u8", origin.master, methods=["GET", "HEAD"]),
            Route("/live/{channel}/{rung}/playlist.m3u8", origin.playlist, methods=["GET", "HEAD"]),
            Route("/live/{channel}/{rung}/{name}", origin.media, methods=["GET", "HEAD"]),
            Route("/healthz", origin.health, methods=["GET", "HEAD"]),
        ],
        middleware=[Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD"], expose_headers=["Age"])],
    )
