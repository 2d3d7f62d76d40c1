"""Live mode of the trace-driven simulator: a low-latency stream published part by part in real time.

The stream (LL-HLS / LL-DASH as :mod:`streamlab.streaming` packages it): segments of
``segment_s`` (2 s) made of ``parts_per_segment`` parts (6: 0.333 s each). The encoder publishes
a part when its last frame exists, so at wall time ``t`` the live edge is ``join_media_s + t`` and
part ``p`` (media ``[p x part_s, (p + 1) x part_s)``) can be fetched from the moment the edge passes
its end: the player **cannot fetch ahead of the live edge**. A request sent before its part exists
waits at the server (a blocking preload hint) and the bytes flow as soon as it is published.

The player joins at the live edge minus the target latency (rounded down to a part), fetches parts
back to back, starts playing after ``startup_buffer_s`` of media, plays at the rate its policy
chose (clamped to ``[min_rate, max_rate]``: catch-up above 1, slow-down below), and stalls when the
buffer empties. Latency = live edge minus playhead; a stall adds its length to it, and only playing
faster than real time takes it back.

The link is the VOD simulator's :class:`~streamlab.models.abr.simulator.Link` (the same interval
walk, ``compat=False``: no benchmark quirks): waits for a part to be published and the round trip
are idle link time, a part's bytes walk the trace. Part sizes come from the benchmark title's
4 s chunk sizes (a 2 s segment is half of the chunk it falls in; parts split it evenly), so the
live and VOD numbers use the same encoder and ladder.

Simplifications (stated, not hidden): parts are independent (any part could start a session) but
rungs switch at segment boundaries only; no seek back to the live edge after long stalls (the
rate alone catches up); a part is published whole (no chunked transfer inside a part).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from streamlab.models.abr.live.settings import LiveSettings
from streamlab.models.abr.simulator import Link
from streamlab.models.abr.traces import Trace
from streamlab.models.abr.video import CHUNK_DURATION_S, Video


class LiveTitle:
    """The benchmark title as a live stream of ``segment_s`` segments (sizes from its 4 s chunks, cycled)."""

    def __init__(self, video: Video, settings: LiveSettings) -> None:
        self.video = video
        self.settings = settings
        self.bitrates_kbps = video.bitrates_kbps
        self.levels = video.levels
        share = settings.segment_s / CHUNK_DURATION_S
        chunks = video.total_chunks
        # sizes[level, segment] for one cycle of the title; a session longer than it repeats it
        starts = np.arange(int(math.ceil(chunks / share))) * settings.segment_s
        self._chunk_of = (starts // CHUNK_DURATION_S).astype(int) % chunks
        self._sizes = video.sizes_bytes[:, self._chunk_of] * share

    def segment_bytes(self, level: int, segment: int) -> float:
        return float(self._sizes[level, segment % self._sizes.shape[1]])

    def sizes_ahead(self, segment: int, count: int) -> np.ndarray:
        """``[level, step]``: the sizes of segments ``segment .. segment + count - 1``."""
        columns = (segment + np.arange(count)) % self._sizes.shape[1]
        return self._sizes[:, columns]


@dataclass(frozen=True)
class PartResult:
    """What fetching and playing through one part did (seconds)."""

    bytes: float
    elapsed_s: float
    """Request sent to last byte received."""
    wait_s: float
    """Of which the request waited for the part to be published."""
    transfer_s: float
    """First byte to last byte (the payload's time on the link)."""
    stall_s: float
    played_s: float
    """Media played while the part downloaded (wall time x rate, less any stall)."""
    startup_s: float
    """Wall time of this part spent before playback first started."""
    latency_s: float
    """Latency when the part arrived."""
    buffer_s: float
    playback_rate: float


class LiveSimulator:
    """One viewer of one live stream over one trace."""

    def __init__(self, trace: Trace, title: LiveTitle) -> None:
        self.link = Link(trace, compat=False)
        self.title = title
        self.settings = title.settings
        self.reset()

    def reset(self) -> None:
        s = self.settings
        self.state = self.link.start()
        self.wall_s = 0.0
        first_part = math.floor((s.join_media_s - s.target_latency_s) / s.part_s + 1e-9)
        self.first_part = first_part
        self.next_part = first_part
        self.playhead_s = first_part * s.part_s
        self.buffer_s = 0.0
        self.started = False
        self.playing = False

    @property
    def parts_fetched(self) -> int:
        return self.next_part - self.first_part

    @property
    def latency_s(self) -> float:
        return self.settings.join_media_s + self.wall_s - self.playhead_s

    def fetch_part(self, level: int, segment: int, playback_rate: float) -> PartResult:
        """Fetch the next part at ``level`` (a part of session segment ``segment``) while playing at ``playback_rate``."""
        s = self.settings
        rate = min(max(playback_rate, s.min_rate), s.max_rate)
        size = self.title.segment_bytes(level, segment) / s.parts_per_segment
        half_rtt = s.rtt_ms / 2000.0
        published_at = (self.next_part + 1) * s.part_s - s.join_media_s  # wall time the edge passes its end
        data_start = max(self.wall_s + half_rtt, published_at)
        wait_s = max(0.0, published_at - (self.wall_s + half_rtt))
        self.link.idle_ms(self.state, (data_start - self.wall_s) * 1000.0)
        transfer_s = self.link.download_s(self.state, size)
        if half_rtt:
            self.link.idle_ms(self.state, half_rtt * 1000.0)
        elapsed = data_start + transfer_s + half_rtt - self.wall_s
        stall = played = startup = 0.0
        if self.started:
            if self.buffer_s >= rate * elapsed:
                played = rate * elapsed
            else:
                played = self.buffer_s
                stall = elapsed - self.buffer_s / rate
        else:
            startup = elapsed
        self.buffer_s = self.buffer_s - played + s.part_s
        self.playhead_s += played
        self.wall_s += elapsed
        self.next_part += 1
        if not self.started and self.buffer_s >= s.startup_buffer_s - 1e-9:
            self.started = True
        self.playing = self.started
        return PartResult(size, elapsed, wait_s, transfer_s, stall, played, startup, self.latency_s, self.buffer_s, rate)
