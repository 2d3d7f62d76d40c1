"""The channel process: ingest feeds, the one-process ladder transcoder, our LL-HLS packager, the live origin.

``live start`` runs this module in its own session (``python -m streamlab.streaming.live.channel``),
so every FFmpeg it starts shares its process group and ``live stop`` can end them all. Everything
runs on one asyncio loop: the receivers' TS is read from pipes, the active feed is written into the
transcoder's stdin, each rung's fMP4 comes back on its own pipe and is cut into parts, and the
origin answers blocking playlist requests from the same in-memory timelines (woken by a
:class:`~streamlab.streaming.live.origin.Notifier`, no polling).

The transcoder writes one fMP4 stream per rung and one for the AAC audio rendition (every feed,
and the slate, carries audio); all of them are timelines of the same packager. With
``transcode.ladder_from: model`` the rungs are chosen before the first transcoder starts
(:mod:`.ladder`); with ``drm.mode: clearkey`` every output is CENC-encrypted as written (:mod:`.drm`).

Failover: when the active feed has been silent for ``ingest.failover_after_s``, the transcoder is
restarted on the other feed from that feed's last keyframe; the timelines start a new generation
(new init segment, ``EXT-X-DISCONTINUITY``) and the capture clock of the backup encoder carries on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from streamlab.core import project
from streamlab.streaming.live import cmaf
from streamlab.streaming.live.clock import contribution_offset_s
from streamlab.streaming.live.commands import contribution_command, ingest_url, receiver_command, transcoder_command
from streamlab.streaming.live.feeds import Feed
from streamlab.streaming.live.health import HealthMonitor
from streamlab.streaming.live.ladder import PROBE_KEYFRAME_WAIT_S, Decider, LadderChoice, fixed_rungs
from streamlab.streaming.live.origin import Notifier, create_live_origin_app
from streamlab.streaming.live.playlist import AUDIO_NAME, ServerControl, media_playlist, multivariant_playlist, rendition_reports
from streamlab.streaming.live.settings import LiveRung, LiveSettings, channel_media_dir, edge_base_url, load_live_settings
from streamlab.streaming.live.state import ChannelPaths, write_json_atomically
from streamlab.streaming.live.timeline import NotIndependent, RungTimeline, write_atomically

if TYPE_CHECKING:
    from streamlab.streaming.live.drm import LiveProtection

STATE_INTERVAL_S = 0.5


def _log(message: str) -> None:
    """One line in the channel's log (its stderr, ``<state>/live/<channel>/logs/channel.log``)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def ladder_for_source(settings: LiveSettings) -> list[LiveRung]:
    """The configured ladder without rungs above the contribution's size (never upscale)."""
    return fixed_rungs(settings, settings.contribution.width, settings.contribution.height)


class _OriginServer(uvicorn.Server):
    """Uvicorn without its signal handling: on SIGTERM the channel must first end its FFmpeg
    children, and uvicorn would re-raise the signal (killing the process) once it has shut down."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Channel:
    """One running channel; the attributes the origin reads are those of ``LiveChannelView``."""

    def __init__(self, name: str, settings: LiveSettings, media_root: Path, paths: ChannelPaths,
                 overrides: list[str] | None = None) -> None:
        self.name = name
        self.settings = settings
        self.overrides = overrides or []
        self.paths = paths
        self.folder = channel_media_dir(media_root, name)
        self.fps = settings.transcode.fps
        self.control = ServerControl.from_settings(settings)
        self.notifier = Notifier()
        self.audio_kbps = settings.transcode.audio_bitrate_kbps if settings.transcode.audio else None
        self.ladder = LadderChoice(ladder_for_source(settings), "fixed")
        self.ladder_decided = settings.transcode.ladder_from == "fixed"
        self.decider = Decider(settings, self.overrides, paths.log("ladder"))
        self.protection: LiveProtection | None = None
        if settings.drm.mode == "clearkey":  # imported only then: the DRM stack is not every channel's
            from streamlab.streaming.live.drm import LiveProtection, channel_key

            self.protection = LiveProtection(*channel_key(name))
        self._set_rungs(self.ladder.rungs)
        ingest = settings.ingest
        self.feeds = [
            Feed(feed, functools.partial(receiver_command, ingest_url(settings, port, name, "listener")))
            for feed, port in (("primary", ingest.primary_port), ("backup", ingest.backup_port)) if port
        ]
        contribution = settings.contribution
        # small bars (the ladder scales them up): the slate runs all along, so it should cost little
        slate = contribution.model_copy(update={"width": min(contribution.width, 640), "height": min(contribution.height, 360),
                                                "bitrate_kbps": 300, "preset": "ultrafast", "tone_hz": 1000,
                                                "audio_offset_s": 0.0, "drop_every": 0})
        slate_source = f"smptehdbars=size={slate.width}x{slate.height}:rate={slate.fps}"
        self.slate = Feed("slate", lambda: contribution_command(slate_source, slate, "pipe:1", contribution_offset_s()))
        self.events: list[dict[str, object]] = []
        self.active: Feed | None = None
        self.state = "starting"
        self.failovers = 0
        self.origin_url = ""
        self.edge_url = edge_base_url(settings)
        self.started_at = time.time()
        self.transcoder_pid: int | None = None
        self.health = HealthMonitor(self, settings.health)

    def _set_rungs(self, rungs: list[LiveRung]) -> None:
        """The rungs (before the first transcoder: viewers must never see them change) and their timelines."""
        packaging = self.settings.packaging
        self.rungs = rungs
        self.timelines = {
            name: RungTimeline(name, self.folder / name, packaging.segment_s, packaging.dvr_window_s)
            for name in [*(rung.name for rung in rungs), *([AUDIO_NAME] if self.audio_kbps else [])]
        }

    async def _choose_ladder(self) -> None:
        """The model's rungs from the first ``ladder_probe_s`` of the first feed with a keyframe
        (the primary when both are), or the fixed ladder with the reason (:mod:`.ladder`)."""
        transcode = self.settings.transcode
        size = (self.settings.contribution.width, self.settings.contribution.height)
        self.state = "choosing ladder"
        deadline = time.monotonic() + PROBE_KEYFRAME_WAIT_S
        feed = None
        while feed is None and time.monotonic() < deadline:
            feed = next((candidate for candidate in self.feeds if candidate.has_keyframe()), None)
            await asyncio.sleep(0.05)
        probe = None
        if feed is not None:
            probe = self.paths.folder / "ladder-probe.ts"
            probe.write_bytes(await feed.record(transcode.ladder_probe_s))
        self.ladder = await self.decider.choose(probe, size)
        self._set_rungs(self.ladder.rungs)
        self.ladder_decided = True
        write_atomically(self.folder / "master.m3u8", multivariant_playlist(self.rungs, {}, self.fps, self.audio_kbps).encode())
        how = f"model {self.ladder.origin} in {self.ladder.decided_in_s} s" if self.ladder.source == "model" else \
            f"fixed ladder ({self.ladder.fallback}: {self.ladder.detail})"
        _log(f"rungs {[rung.name for rung in self.rungs]} from the {how}")

    def metrics(self) -> str:
        """The channel's own Prometheus text at the live origin's ``/metrics``: health and ladder."""
        return self.health.prometheus() + self.ladder.prometheus(self.name)

    @property
    def active_feed(self) -> Feed | None:
        return self.active

    @property
    def on_slate(self) -> bool:
        return self.active is self.slate

    # ---- transcoder sessions -----------------------------------------------------------------
    async def _transcode(self, feed: Feed) -> None:
        """One transcoder run on ``feed``, until it ends or is cancelled (on failover or stop)."""
        names = list(self.timelines)  # the rungs, then the audio rendition
        pipes = [os.pipe() for _ in names]
        audio_fd = pipes[-1][1] if self.audio_kbps else None
        encryption = self.protection.transcoder_args if self.protection else None
        command = transcoder_command(self.settings, self.rungs, [write for _, write in pipes[: len(self.rungs)]], audio_fd, encryption)
        with self.paths.log("transcoder").open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=log,
                pass_fds=[write for _, write in pipes],
            )
        self.transcoder_pid = process.pid
        for _, write in pipes:
            os.close(write)
        queue = feed.subscribe()
        _log(f"transcoder {process.pid} started on the {feed.name} feed ({feed.buffered_bytes} bytes from its last keyframe)")
        loop = asyncio.get_running_loop()
        readers = []
        for read, _ in pipes:
            reader = asyncio.StreamReader(limit=cmaf.MAX_BOX_BYTES)
            await loop.connect_read_pipe(functools.partial(asyncio.StreamReaderProtocol, reader), os.fdopen(read, "rb", 0))
            readers.append(reader)
        tasks = [asyncio.create_task(self._package(self.timelines[name], reader)) for name, reader in zip(names, readers, strict=True)]
        tasks.append(asyncio.create_task(self._feed_stdin(process, queue)))
        try:
            await asyncio.gather(*tasks)
        finally:
            feed.unsubscribe(queue)
            for task in tasks:
                task.cancel()
            if process.returncode is None:
                process.kill()
            await process.wait()
            self.transcoder_pid = None

    @staticmethod
    async def _feed_stdin(process: asyncio.subprocess.Process, queue: asyncio.Queue[bytes | None]) -> None:
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while (data := await queue.get()) is not None:
                process.stdin.write(data)
                await process.stdin.drain()

    async def _package(self, timeline: RungTimeline, reader: asyncio.StreamReader) -> None:
        init_bytes, init = await cmaf.read_init(reader)
        if self.protection is not None:
            init_bytes = self.protection.init_segment(init_bytes)
        timeline.start_generation(init_bytes, init)
        codecs = {name: other.codecs for name, other in self.timelines.items() if other.codecs}
        write_atomically(self.folder / "master.m3u8", multivariant_playlist(self.rungs, codecs, self.fps, self.audio_kbps).encode())
        first = True
        while (chunk := await cmaf.read_chunk(reader, init)) is not None:
            try:
                timeline.add_chunk(chunk)
            except NotIndependent:
                continue
            if first:
                first = False
                _log(f"{timeline.name}: first part of generation {timeline.generation}, captured {time.time() - timeline.segments[-1].pdt_s:.3f} s ago")
            self.state = {"primary": "live", "backup": "live-backup", "slate": "slate"}[self.active.name] if self.active else "live"
            self._publish(timeline)

    def _publish(self, timeline: RungTimeline) -> None:
        """Wake blocked requests and refresh the on-disk playlist (for origins that only read files)."""
        self.notifier.notify()
        reports = rendition_reports(self.timelines, timeline)
        key_tags = self.protection.hls_key_tags if self.protection else None
        write_atomically(timeline.folder / "playlist.m3u8", media_playlist(timeline, self.control, reports, key_tags=key_tags).encode())

    # ---- supervision -------------------------------------------------------------------------
    def _ready_inputs(self) -> list[Feed]:
        ingest = self.settings.ingest
        return [feed for feed in self.feeds if feed.steady(ingest.steady_s) and feed.has_keyframe()]

    def _event(self, kind: str, detail: str) -> None:
        """An input event (``input_failover``, ``input_lost``, ``input_restored``) for status and the
        health monitor to come; kept to the last 50."""
        self.events = [*self.events[-49:], {"at": time.time(), "kind": kind, "detail": detail}]
        _log(f"{kind}: {detail}")

    def _leave(self, current: Feed) -> bool:
        """Time to stop transcoding ``current``: it went silent, or it is the slate and an input is back."""
        if not current.alive(self.settings.ingest.failover_after_s):
            return True
        return current is self.slate and bool(self._ready_inputs())

    async def _supervise(self) -> None:
        """Run a transcoder on a live input; fail over when the active one goes silent; publish
        the slate when every input is lost, until one comes back."""
        on_slate = False
        first_ready_at: float | None = None
        session: asyncio.Task[None] | None = None
        if not self.ladder_decided:
            await self._choose_ladder()
        try:
            while True:
                candidates = self._ready_inputs()
                silent_s = time.monotonic() - max(feed.last_bytes_at for feed in self.feeds)
                lost = silent_s >= self.settings.ingest.slate_after_s
                if not candidates and self.active is not None and (lost or on_slate):
                    if not on_slate:  # had media, lost every input: the slate
                        self._event("input_lost", "every contribution feed is silent: publishing the slate")
                        on_slate = True
                    if self.slate.alive(self.settings.ingest.failover_after_s) and self.slate.has_keyframe():
                        candidates = [self.slate]
                if candidates and first_ready_at is None:
                    first_ready_at = time.monotonic()
                waiting_for_primary = (
                    self.active is None and self.feeds[0] not in candidates
                    and first_ready_at is not None and time.monotonic() - first_ready_at < self.settings.ingest.primary_grace_s
                )
                if not candidates or waiting_for_primary:
                    await asyncio.sleep(0.05)
                    continue
                preferred = self.active if self.active in candidates else candidates[0]
                if self.active is not None and preferred is not self.active and preferred is not self.slate:
                    self.failovers += 1
                    kind = "input_restored" if self.active is self.slate else "input_failover"
                    self._event(kind, f"{self.active.name} silent for {time.monotonic() - self.active.last_bytes_at:.2f} s, switching to {preferred.name}")
                on_slate = preferred is self.slate
                self.active = preferred
                session = asyncio.create_task(self._transcode(preferred))
                while not session.done() and not self._leave(preferred):
                    await asyncio.sleep(0.05)
                if not session.done():
                    session.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await session
                self.state = "failover"
        finally:
            if session is not None:
                session.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await session

    def snapshot(self) -> dict[str, Any]:
        """What ``live status`` prints: one JSON file, rewritten twice a second."""
        now = time.time()
        rungs = []
        latencies = []
        for rung in self.rungs:
            timeline = self.timelines[rung.name]
            end = timeline.newest_pdt_end_s
            if end is not None:
                latencies.append(now - end)
            rungs.append({
                "name": rung.name, "width": rung.width, "height": rung.height, "bitrate_kbps": rung.bitrate_kbps,
                "codecs": timeline.codecs, "last_part": timeline.last_part, "segments": len(timeline.segments),
                "playlist": f"{self.origin_url}/live/{self.name}/{rung.name}/playlist.m3u8",
            })
        silence_s = self.settings.ingest.failover_after_s
        return {
            "channel": self.name, "state": self.state, "pid": os.getpid(), "started_at": self.started_at,
            "updated_at": now, "origin_url": self.origin_url, "hls_url": f"{self.origin_url}/live/{self.name}/master.m3u8",
            "dash_url": f"{self.origin_url}/live/{self.name}/manifest.mpd",
            "edge_url": self.edge_url,
            "edge_hls_url": f"{self.edge_url}/live/{self.name}/master.m3u8" if self.edge_url else None,
            "edge_dash_url": f"{self.edge_url}/live/{self.name}/manifest.mpd" if self.edge_url else None,
            "media_dir": str(self.folder), "active_input": self.active.name if self.active else None,
            "ingest_protocol": self.settings.ingest.protocol,
            "failovers": self.failovers, "transcoder_pid": self.transcoder_pid, "events": self.events,
            "inputs": [
                {"name": feed.name, "alive": feed.alive(silence_s), "bytes": feed.bytes_total,
                 "receiver_pid": feed.process.pid if feed.process and feed.process.returncode is None else None}
                for feed in [*self.feeds, self.slate]
            ],
            "rungs": rungs,
            "audio": self._audio_snapshot(),
            "ladder": self.ladder.snapshot(),
            "drm": {"mode": "clearkey", "title_id": self.protection.key.title_id, "kid": self.protection.key.kid_hex,
                    "license_url": self.protection.license_url} if self.protection else None,
            "packager_latency_s": round(min(latencies), 3) if latencies else None,
            "dvr_window_s": self.settings.packaging.dvr_window_s,
            "health": self.health.snapshot(),
        }

    def _audio_snapshot(self) -> dict[str, Any] | None:
        audio = self.timelines.get(AUDIO_NAME)
        if audio is None:
            return None
        return {"name": AUDIO_NAME, "bitrate_kbps": self.audio_kbps, "codecs": audio.codecs, "last_part": audio.last_part,
                "segments": len(audio.segments), "playlist": f"{self.origin_url}/live/{self.name}/{AUDIO_NAME}/playlist.m3u8"}

    async def _monitor(self) -> None:
        """The health checks, once per window, for as long as the channel runs."""
        while True:
            await asyncio.sleep(self.settings.health.interval_s)
            for alert in self.health.tick():
                _log(f"health alert {alert.dimension} {alert.value} ({alert.severity}): {alert.evidence}")

    async def _write_state(self) -> None:
        while True:
            write_json_atomically(self.paths.state, self.snapshot())
            await asyncio.sleep(STATE_INTERVAL_S)

    async def run(self, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        self.origin_url = f"http://{host}:{port}"
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.folder / "master.m3u8", multivariant_playlist(self.rungs, {}, self.fps, self.audio_kbps).encode())
        server = _OriginServer(uvicorn.Config(
            create_live_origin_app(self, self.settings.origin, self.metrics), log_level="warning", access_log=False,
            lifespan="off", server_header=False, timeout_keep_alive=30,
        ))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if not self.ladder_decided:  # the model loads while the feeds start
            await self.decider.start()
        # the slate runs all along (static bars cost little): on input loss it has a keyframe ready
        tasks = [asyncio.create_task(feed.run()) for feed in [*self.feeds, self.slate]]
        tasks += [asyncio.create_task(self._supervise()), asyncio.create_task(self._write_state()),
                  asyncio.create_task(self._monitor()),
                  asyncio.create_task(server.serve(sockets=[sock]))]
        try:
            done, _ = await asyncio.wait([asyncio.create_task(stop.wait()), *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            server.should_exit = True
            for task in tasks[:-1]:
                task.cancel()
            for feed in [*self.feeds, self.slate]:
                await feed.stop()
            await self.decider.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.state = "stopped"
            write_json_atomically(self.paths.state, self.snapshot())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run one live channel (started by `streamlab live start`)")
    parser.add_argument("channel")
    parser.add_argument("--overrides", default="[]", help="JSON list of configs/live.yaml overrides")
    args = parser.parse_args(argv)
    settings = load_live_settings(json.loads(args.overrides))
    paths = ChannelPaths.for_channel(args.channel)
    from streamlab.streaming.delivery.stack import bind_socket

    sock = bind_socket(settings.host, settings.origin.port)
    channel = Channel(args.channel, settings, project.media_root(), paths, json.loads(args.overrides))
    asyncio.run(channel.run(sock))
    return 0


if __name__ == "__main__":
    sys.exit(main())
