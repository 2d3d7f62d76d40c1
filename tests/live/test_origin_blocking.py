"""The live origin's blocking reload on a real loopback server, fed synthetic parts (no FFmpeg):
a blocked request is released by the part it waits for, and answered 503 after the bound."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from streamlab.streaming.delivery.stack import bind_socket, socket_url
from streamlab.streaming.live.origin import Notifier, create_live_origin_app
from streamlab.streaming.live.playlist import ServerControl
from streamlab.streaming.live.settings import LiveOriginSettings, LiveRung
from streamlab.streaming.live.timeline import RungTimeline
from tests.live.test_timeline_properties import CONTROL, INIT, NOW, chunk


@dataclass
class SyntheticChannel:
    folder: Path
    name: str = "synthetic"
    fps: int = 30
    audio_kbps: int | None = None
    protection: None = None
    control: ServerControl = CONTROL
    notifier: Notifier = field(default_factory=Notifier)
    rungs: list[LiveRung] = field(default_factory=lambda: [LiveRung(name="360p", width=640, height=360, bitrate_kbps=800)])
    timelines: dict[str, RungTimeline] = field(default_factory=dict)
    frame: int = 0

    def add_part(self) -> None:
        timeline = self.timelines["360p"]
        timeline.add_chunk(chunk(self.frame, 10, self.frame % 60 == 0), now_s=NOW)
        self.frame += 10
        self.notifier.notify()


@pytest.fixture()
def origin(tmp_path: Path) -> Iterator[tuple[str, SyntheticChannel, asyncio.AbstractEventLoop]]:
    channel = SyntheticChannel(tmp_path)
    timeline = RungTimeline("360p", tmp_path / "360p", 2.0, 60.0)
    timeline.start_generation(b"init", INIT)
    channel.timelines["360p"] = timeline
    for _ in range(3):
        channel.add_part()
    settings = LiveOriginSettings(block_timeout_targets=0.5)  # 1 s with 2 s segments
    with serving_origin(channel, settings) as (base, loop):
        yield f"{base}/live/synthetic/360p/playlist.m3u8", channel, loop


@contextlib.contextmanager
def serving_origin(channel: object, settings: LiveOriginSettings) -> Iterator[tuple[str, asyncio.AbstractEventLoop]]:
    """``channel``'s live origin on a loopback port, served by its own event loop in a thread: (base URL, loop).

    The loop is returned so a test can publish parts on the server's loop (``loop.call_later``)."""
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_live_origin_app(channel, settings), log_level="warning", lifespan="off"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(sockets=[sock]),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield socket_url(sock), loop
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()
        sock.close()


def test_a_blocked_reload_is_released_by_the_part_it_waits_for(origin: tuple[str, SyntheticChannel, asyncio.AbstractEventLoop]) -> None:
    url, channel, loop = origin
    loop.call_later(0.3, channel.add_part)  # seg0.3 appears 0.3 s from now, on the server's loop
    started = time.monotonic()
    response = httpx.get(url, params={"_HLS_msn": 0, "_HLS_part": 3}, timeout=5)
    waited = time.monotonic() - started
    assert response.status_code == 200
    assert 'URI="seg0.3.m4s"' in response.text and 0.25 <= waited < 0.9
    assert response.headers["cache-control"] == "public, max-age=6"


def test_a_part_that_never_comes_is_a_503_after_the_bound(origin: tuple[str, SyntheticChannel, asyncio.AbstractEventLoop]) -> None:
    url, _, _ = origin
    started = time.monotonic()
    response = httpx.get(url, params={"_HLS_msn": 1, "_HLS_part": 0}, timeout=5)
    assert response.status_code == 503 and 0.9 <= time.monotonic() - started < 2.0
    assert response.headers["cache-control"] == "no-cache"  # never stored, shared by coalesced waiters
