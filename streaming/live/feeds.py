"""Contribution feeds as the channel sees them: an SRT listener each, and the switch between them.

Each feed is an FFmpeg receiver (:func:`~streamlab.streaming.live.commands.receiver_command`)
whose MPEG-TS stdout the channel reads. The feed keeps the bytes since its last keyframe (from
the PAT/PMT in front of it), so a transcoder started on it (at start-up or on failover) begins
decoding at once instead of waiting up to a contribution GOP. A receiver exits when its caller
goes away; the feed restarts it, so a contribution encoder can come back at any time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

TS_PACKET = 188
MAX_GOP_BYTES = 16 * 1024 * 1024
"""Without keyframes the buffer would grow without end: past this, only the tail is kept."""
MAX_RESTART_DELAY_S = 2.0
KEYFRAMES_KEPT = 64
"""Arrival times of the last keyframes, for the health monitor's keyframe-interval check."""
FRAMES_KEPT = 2048
"""Video frames (and audio PES packets) remembered for the health checks: over a minute at 30 fps."""
PTS_HZ = 90_000
STEADY_GAP_S = 0.3
"""A pause in the bytes longer than this restarts a feed's "receiving since" clock (TS over SRT
arrives every few ms; even a starved encoder's pauses are shorter)."""


def pes_start(packet: bytes) -> tuple[bool, float | None] | None:
    """``(is video, PTS in seconds or None)`` when a TS packet starts an audio or video PES, else None.

    The stream id says which (0xE0-0xEF video, 0xC0-0xDF audio), so no PMT is needed; the PES
    header follows the adaptation field, whose length is byte 4 when present.
    """
    start = 4 + (1 + packet[4] if packet[3] & 0x20 else 0)
    if start + 14 > len(packet) or packet[start : start + 3] != b"\0\0\1":
        return None
    stream_id = packet[start + 3]
    if not 0xC0 <= stream_id <= 0xEF:
        return None
    pts_s = None
    if packet[start + 7] & 0x80:
        b = packet[start + 9 : start + 14]
        pts = ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1
        pts_s = pts / PTS_HZ
    return stream_id >= 0xE0, pts_s


class Feed:
    """One ingest listener: receiver process, keyframe-aligned buffer, and live subscribers."""

    def __init__(self, name: str, command: Callable[[], list[str]], restart_delay_s: float = 0.2) -> None:
        """``command`` builds the process's command line at each (re)start: a generator feed (the
        slate) stamps its capture clock when it starts."""
        self.name = name
        self.command = command
        self.restart_delay_s = restart_delay_s
        self.last_bytes_at = 0.0
        self.receiving_since = 0.0
        self.bytes_total = 0
        self.process: asyncio.subprocess.Process | None = None
        self._gop = bytearray()
        self._pat_at: int | None = None
        self._subscribers: list[asyncio.Queue[bytes | None]] = []
        self._remainder = b""
        self._keyframe_seen = False
        self.keyframe_times: deque[float] = deque(maxlen=KEYFRAMES_KEPT)
        self.frame_times: deque[tuple[float, float]] = deque(maxlen=FRAMES_KEPT)
        """(arrival, PTS in seconds) of the last video frames: the dropped-frame check counts them."""
        self.av_offsets: deque[tuple[float, float]] = deque(maxlen=FRAMES_KEPT)
        """(arrival, audio PTS minus the last video PTS before it): the A/V drift at ingest."""
        self._last_video_pts: float | None = None

    def alive(self, within_s: float) -> bool:
        """Bytes arrived within the last ``within_s`` seconds."""
        return self.bytes_total > 0 and time.monotonic() - self.last_bytes_at <= within_s

    def steady(self, for_s: float) -> bool:
        """Flowing now, without a pause over ``STEADY_GAP_S``, for at least ``for_s``. A receiver
        flushing its last bytes when SRT gives up on a dead caller (about 5 s later) is one burst,
        not a feed that came back: switching to it would publish stale media."""
        now = time.monotonic()
        return self.bytes_total > 0 and now - self.last_bytes_at <= STEADY_GAP_S and now - self.receiving_since >= for_s

    def has_keyframe(self) -> bool:
        """The buffer starts at a keyframe: a transcoder started now decodes from its first bytes."""
        return self._keyframe_seen

    @property
    def buffered_bytes(self) -> int:
        return len(self._gop)

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        """A queue that starts at the last keyframe (PAT/PMT first) and then follows the feed."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        if self._gop:
            queue.put_nowait(bytes(self._gop))
        self._subscribers.append(queue)
        return queue

    async def record(self, seconds: float) -> bytes:
        """The feed from its last keyframe for ``seconds`` of wall time (less if it stops): a probe of its content."""
        queue = self.subscribe()
        recorded = bytearray()
        until = time.monotonic() + seconds
        try:
            while (remaining := until - time.monotonic()) > 0:
                try:
                    data = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
                if data is None:
                    break
                recorded += data
        finally:
            self.unsubscribe(queue)
        return bytes(recorded)

    def unsubscribe(self, queue: asyncio.Queue[bytes | None]) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(queue)

    async def run(self) -> None:
        """Keep the receiver running and its bytes flowing, until cancelled."""
        delay_s = self.restart_delay_s
        while True:
            received = self.bytes_total
            self.process = await asyncio.create_subprocess_exec(
                *self.command(), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                assert self.process.stdout is not None
                while data := await self.process.stdout.read(64 * 1024):
                    self._ingest(data)
            finally:
                if self.process.returncode is None:
                    self.process.kill()
                await self.process.wait()
            self._gop.clear()
            self._pat_at = None
            self._remainder = b""
            self._keyframe_seen = False
            self._last_video_pts = None
            # a receiver that dies without a byte (port taken, bad URL) is retried ever more slowly
            delay_s = self.restart_delay_s if self.bytes_total > received else min(2 * delay_s, MAX_RESTART_DELAY_S)
            await asyncio.sleep(delay_s)

    def _ingest(self, data: bytes) -> None:
        now = time.monotonic()
        if now - self.last_bytes_at > STEADY_GAP_S:
            self.receiving_since = now
        self.last_bytes_at = now
        self.bytes_total += len(data)
        data = self._remainder + data
        whole = len(data) - len(data) % TS_PACKET
        self._remainder = data[whole:]
        for offset in range(0, whole, TS_PACKET):
            packet = data[offset : offset + TS_PACKET]
            pid = ((packet[1] & 0x1F) << 8) | packet[2]
            if pid == 0:
                self._pat_at = len(self._gop)
            elif packet[1] & 0x40 and (start := pes_start(packet)) is not None:
                video, pts_s = start
                if video:
                    self._video(packet, now, pts_s)
                elif pts_s is not None and self._last_video_pts is not None:
                    self.av_offsets.append((now, pts_s - self._last_video_pts))
            self._gop += packet
        if len(self._gop) > MAX_GOP_BYTES:
            del self._gop[: len(self._gop) - MAX_GOP_BYTES]
        chunk = data[:whole]
        for queue in self._subscribers:
            queue.put_nowait(chunk)

    def _video(self, packet: bytes, now: float, pts_s: float | None) -> None:
        """A video frame starts in ``packet``: a keyframe (random access indicator) restarts the
        buffer at its PAT; its timestamp counts for the dropped-frame and A/V checks."""
        if packet[3] & 0x20 and packet[4] > 0 and packet[5] & 0x40 and self._pat_at is not None:
            del self._gop[: self._pat_at]
            self._pat_at = None
            self._keyframe_seen = True
            self.keyframe_times.append(now)
        if pts_s is not None:
            self._last_video_pts = pts_s
            self.frame_times.append((now, pts_s))

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
