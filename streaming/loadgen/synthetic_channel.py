"""A live channel without FFmpeg: the real live origin and packager, fed parts on the wall clock.

A crowd test needs a channel that keeps perfect time while the box is busy with thousands of
viewers; the real one (``streamlab live start``) transcodes on the same two cores and would
measure the transcoder, not the delivery. This channel runs the same :class:`RungTimeline`,
playlist writer and :func:`create_live_origin_app` as a real channel; only the CMAF chunks are
synthetic (zero-filled, sized at each rung's bitrate, a keyframe every segment) and their decode
time is the wall clock, so each segment's ``EXT-X-PROGRAM-DATE-TIME`` is the moment its first part
was written and latency to live is measured exactly as for a real channel.

It announces itself like a real channel, with ``<state_dir>/<name>/state.json`` (``origin_url``,
``media_dir``), which is what the delivery origin's ``/live/`` route reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from streamlab.streaming.delivery.stack import bind_socket, in_subprocess, socket_url
from streamlab.streaming.live.clock import CLOCK_PERIOD_S
from streamlab.streaming.live.cmaf import Chunk
from streamlab.streaming.live.origin import Notifier, create_live_origin_app
from streamlab.streaming.live.playlist import ServerControl
from streamlab.streaming.live.settings import LiveRung, load_live_settings
from streamlab.streaming.live.timeline import RungTimeline
from streamlab.streaming.packaging.mp4box import FragmentInfo, InitInfo

TIMESCALE = 90_000


@dataclass
class SyntheticChannel:
    """What :class:`streamlab.streaming.live.origin.LiveChannelView` reads, fed by :meth:`tick`."""

    name: str
    folder: Path
    rungs: list[LiveRung]
    control: ServerControl
    fps: int
    part_frames: int
    segment_s: float
    dvr_window_s: float
    notifier: Notifier = field(default_factory=Notifier)
    timelines: dict[str, RungTimeline] = field(default_factory=dict)
    frame: int = 0
    start_media_s: float = 0.0
    audio_kbps: int | None = None
    """Video only: the crowd measures delivery, an audio rendition would only double the requests."""
    protection: None = None
    """In the clear: key signalling is the DRM issue's, not the crowd's."""
    paused: bool = False
    """While set, no parts are written: the channel looks like a stalled transcoder (fault tests)."""

    def __post_init__(self) -> None:
        for rung in self.rungs:
            timeline = RungTimeline(rung.name, self.folder / rung.name, self.segment_s, self.dvr_window_s)
            timeline.start_generation(b"\0" * 64, InitInfo("vide", "avc1", "avc1.42c01e", TIMESCALE, 0, 0,
                                                             width=rung.width, height=rung.height))
            self.timelines[rung.name] = timeline
        self.start_media_s = time.time() % CLOCK_PERIOD_S

    @property
    def part_s(self) -> float:
        return self.part_frames / self.fps

    def tick(self) -> None:
        """Write the next part of every rung (a keyframe on each segment boundary) and wake waiters."""
        frames_per_segment = round(self.segment_s * self.fps)
        tick = TIMESCALE // self.fps
        start = round(self.start_media_s * TIMESCALE) + self.frame * tick
        keyframe = self.frame % frames_per_segment == 0
        info = FragmentInfo(start, self.part_frames * tick, self.part_frames, keyframe, start)
        for rung in self.rungs:
            size = max(188, round(rung.bitrate_kbps * 1000 / 8 * self.part_s))
            self.timelines[rung.name].add_chunk(Chunk(b"\0" * size, info))
        self.frame += self.part_frames
        self.notifier.notify()

    async def run(self, stop: asyncio.Event) -> None:
        """Tick on the wall clock (no drift: each part is due at start + n x part_s)."""
        started = time.monotonic()
        written = 0
        while not stop.is_set():
            if not self.paused:
                self.tick()
            written += 1
            delay = started + written * self.part_s - time.monotonic()
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, delay))
            except TimeoutError:
                pass


@contextmanager
def running_synthetic_channel(
    name: str, state_dir: str | Path, overrides: list[str] | None = None, host: str = "127.0.0.1"
) -> Iterator[dict]:
    """Serve a synthetic channel from this process (a background thread) until the block ends.

    ``overrides`` are ``configs/live.yaml`` ones (``transcode.ladder``, ``packaging.*``, ``origin.*``).
    Yields the channel's ``state.json`` payload.
    """
    settings = load_live_settings(overrides)
    folder = Path(state_dir) / name
    folder.mkdir(parents=True, exist_ok=True)
    channel = SyntheticChannel(
        name, folder / "media", list(settings.transcode.ladder), ServerControl.from_settings(settings),
        settings.transcode.fps, settings.part_frames, settings.packaging.segment_s, settings.packaging.dvr_window_s,
    )
    sock = bind_socket(host, 0)
    server = uvicorn.Server(uvicorn.Config(create_live_origin_app(channel, settings.origin), log_level="warning",
                                           lifespan="off", access_log=False))
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        ticker = asyncio.create_task(channel.run(stop))
        await server.serve(sockets=[sock])
        stop.set()
        await ticker

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True, name=f"synthetic-{name}")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    origin_url = socket_url(sock)
    state = {"channel": name, "state": "live", "pid": os.getpid(), "origin_url": origin_url,
             "hls_url": f"{origin_url}/live/{name}/master.m3u8", "media_dir": str(channel.folder),
             "synthetic": True, "part_s": channel.part_s, "segment_s": channel.segment_s}
    (folder / "state.json").write_text(json.dumps(state, indent=1))
    try:
        yield state
    finally:
        (folder / "state.json").write_text(json.dumps(state | {"state": "stopped"}, indent=1))
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()
        sock.close()


@contextmanager
def synthetic_channel_in_subprocess(
    name: str, state_dir: str | Path, overrides: list[str] | None = None, timeout_s: float = 30.0
) -> Iterator[dict]:
    """The synthetic channel in a process of its own (its clock must not wait on the load generator)."""
    with in_subprocess(running_synthetic_channel, {"name": name, "state_dir": str(state_dir), "overrides": overrides},
                       timeout_s, f"the synthetic channel {name!r}") as state:
        yield state
