"""The trace-driven chunk-download simulator (the Pensieve evaluation environment).

Published constants (Mao et al., "Neural Adaptive Video Streaming with Pensieve", SIGCOMM 2017;
reference ``sim/fixed_env.py``, reproduced by Pensieve-PPO's ``test/fixed_env.py``):

* a chunk downloads by walking the trace interval by interval; an interval delivers
  ``throughput x duration x`` :data:`PACKET_PAYLOAD_PORTION` bytes and the download ends part-way
  into the interval where the chunk completes;
* :data:`LINK_RTT_MS` is added to every chunk's download time;
* rebuffer = max(download - buffer, 0); the buffer drains by the download (not below 0) and gains
  one chunk; above :data:`BUFFER_THRESH_MS` the player sleeps in whole :data:`DRAIN_SLEEP_MS`
  steps until at or below the cap, and trace time passes during the sleep; the trace wraps.

The arithmetic is done in milliseconds exactly as the reference does, so thresholds (BBA's
reservoir, the sleep quantisation) and RobustMPC's tie-breaks land on the same side.

**Benchmark-compatibility quirks** (``compat=True``, the default; kept only so our numbers compare
with the published ones, see ``docs/field-notes.md``):

* line ``i`` covers ``(t[i-1], t[i]]``; a trace starts at line 1 with the clock at ``t[0]`` but, on
  wrap-around, restarts at line 1 with the clock at **0**;
* the RTT counts in the download time (so it drains the buffer) but does **not** advance the trace
  clock;
* the sleep time reported for the log is what is left of the sleep in the interval where it ends.

With ``compat=False`` the RTT is idle link time that advances the clock, a wrap restarts at
``t[0]``, and the full sleep is reported.

Besides the exact interval walk used to play sessions, :class:`Link` exposes the trace as a
cumulative-bytes curve over an unwrapped clock, so planners (the offline oracle) can simulate
thousands of downloads at once with ``numpy.searchsorted``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from streamlab.models.abr.traces import Trace
from streamlab.models.abr.video import CHUNK_DURATION_S, Video

LINK_RTT_MS = 80.0
"""Round-trip time added to every chunk's download (Pensieve ``LINK_RTT`` = 80 ms)."""
PACKET_PAYLOAD_PORTION = 0.95
"""Share of the link throughput that carries payload (Pensieve ``PACKET_PAYLOAD_PORTION``)."""
BUFFER_THRESH_MS = 60_000.0
"""Buffer cap (Pensieve ``BUFFER_THRESH`` = 60 s)."""
DRAIN_SLEEP_MS = 500.0
"""The player sleeps in whole steps of this length when over the cap (``DRAIN_BUFFER_SLEEP_TIME``)."""
CHUNK_MS = CHUNK_DURATION_S * 1000.0
BYTES_PER_MBIT = 1e6 / 8.0


@dataclass(frozen=True)
class ChunkResult:
    """What one chunk download did; times in ms as the reference logs them."""

    level: int
    chunk_index: int
    size_bytes: float
    delay_ms: float
    sleep_ms: float
    rebuffer_ms: float
    buffer_ms: float
    end_of_video: bool

    @property
    def throughput_kbps(self) -> float:
        """Measured chunk throughput; the RTT is included in the time, as the reference measures it."""
        return self.size_bytes * 8.0 / self.delay_ms


@dataclass
class LinkState:
    """Where the trace clock is: interval ``ptr`` (1-based line), ``clock_s`` and completed wraps."""

    ptr: int
    clock_s: float
    passes: int = 0


class Link:
    """A trace as a link: the exact interval walk plus a vectorised cumulative-bytes view."""

    def __init__(self, trace: Trace, compat: bool = True) -> None:
        self.trace = trace
        self.compat = compat
        self.time_s = trace.time_s
        self.rate_bytes_s = trace.bandwidth_mbps * BYTES_PER_MBIT
        self._t: list[float] = self.time_s.tolist()
        self._r: list[float] = self.rate_bytes_s.tolist()
        self.period_s = float(self.time_s[-1])
        self.wrap_clock_s = 0.0 if compat else float(self.time_s[0])
        self._x = np.empty(0)
        self._cum = np.empty(0)
        self._rate = np.empty(0)
        self._passes_built = 0
        self._extend(2)

    # --- exact walk (the reference loop) -------------------------------------------------
    def start(self) -> LinkState:
        return LinkState(ptr=1, clock_s=self._t[0], passes=0)

    def _advance_ptr(self, state: LinkState) -> None:
        state.ptr += 1
        if state.ptr >= len(self._t):
            state.ptr = 1
            state.clock_s = self.wrap_clock_s
            state.passes += 1

    def download_s(self, state: LinkState, size_bytes: float) -> float:
        """Walk the trace until ``size_bytes`` are delivered; returns seconds, mutates ``state``."""
        delay_s = 0.0
        sent = 0.0
        while True:
            rate = self._r[state.ptr]
            duration = self._t[state.ptr] - state.clock_s
            payload = rate * duration * PACKET_PAYLOAD_PORTION
            if sent + payload > size_bytes:
                fraction = (size_bytes - sent) / rate / PACKET_PAYLOAD_PORTION
                delay_s += fraction
                state.clock_s += fraction
                return delay_s
            sent += payload
            delay_s += duration
            state.clock_s = self._t[state.ptr]
            self._advance_ptr(state)

    def idle_ms(self, state: LinkState, idle_ms: float) -> float:
        """Let ``idle_ms`` of trace time pass; returns the part spent in the last interval (ms)."""
        while True:
            duration = self._t[state.ptr] - state.clock_s
            if duration > idle_ms / 1000.0:
                state.clock_s += idle_ms / 1000.0
                return idle_ms
            idle_ms -= duration * 1000.0
            state.clock_s = self._t[state.ptr]
            self._advance_ptr(state)

    # --- vectorised view --------------------------------------------------------------------
    def position_s(self, state: LinkState) -> float:
        """The unwrapped clock: pass ``p`` at clock ``c`` is ``p * (T - wrap clock) + c``."""
        return state.passes * (self.period_s - self.wrap_clock_s) + state.clock_s

    def _extend(self, passes: int) -> None:
        t, r = self.time_s, self.rate_bytes_s
        xs = [self._x] if self._passes_built else [t[:1].copy()]
        rates = [self._rate]
        for p in range(self._passes_built, passes):
            offset = p * (self.period_s - self.wrap_clock_s)
            start = t[0] if p == 0 else self.wrap_clock_s
            edges = np.concatenate(([start], t[1:])) + offset
            xs.append(edges[1:])
            rates.append(r[1:])
        self._x = np.concatenate(xs)
        self._rate = np.concatenate(rates)
        seg_bytes = np.diff(self._x) * self._rate * PACKET_PAYLOAD_PORTION
        self._cum = np.concatenate(([0.0], np.cumsum(seg_bytes)))
        self._passes_built = passes

    def bytes_at(self, position_s: np.ndarray) -> np.ndarray:
        self._ensure_position(float(np.max(position_s)))
        j = np.clip(np.searchsorted(self._x, position_s, side="right") - 1, 0, len(self._rate) - 1)
        return self._cum[j] + (position_s - self._x[j]) * self._rate[j] * PACKET_PAYLOAD_PORTION

    def time_at_bytes(self, target_bytes: np.ndarray) -> np.ndarray:
        """The earliest unwrapped time by which ``target_bytes`` have been delivered."""
        while self._cum[-1] < float(np.max(target_bytes)):
            self._extend(self._passes_built * 2)
        j = np.searchsorted(self._cum, target_bytes, side="left")
        j = np.clip(j, 1, len(self._cum) - 1) - 1
        return self._x[j] + (target_bytes - self._cum[j]) / (self._rate[j] * PACKET_PAYLOAD_PORTION)

    def _ensure_position(self, position_s: float) -> None:
        while self._x[-1] < position_s:
            self._extend(self._passes_built * 2)

    def download_vec(self, position_s: np.ndarray, size_bytes: np.ndarray) -> np.ndarray:
        """Download seconds for chunks of ``size_bytes`` started at ``position_s`` (vectorised)."""
        return self.time_at_bytes(self.bytes_at(position_s) + size_bytes) - position_s


class Simulator:
    """One video over one trace: buffer, trace clock and chunk counter (times in ms, as the reference)."""

    def __init__(self, trace: Trace, video: Video, compat: bool = True) -> None:
        self.link = Link(trace, compat)
        self.video = video
        self.compat = compat
        self.reset()

    def reset(self) -> None:
        self.state = self.link.start()
        self.buffer_ms = 0.0
        self.chunk_index = 0

    def download(self, level: int) -> ChunkResult:
        if not 0 <= level < self.video.levels:
            raise ValueError(f"level {level} out of range 0..{self.video.levels - 1}")
        if self.chunk_index >= self.video.total_chunks:
            raise RuntimeError("the video has ended; call reset() first")
        size = self.video.size_bytes(level, self.chunk_index)
        delay_ms = self.link.download_s(self.state, size) * 1000.0 + LINK_RTT_MS
        if not self.compat:
            self.link.idle_ms(self.state, LINK_RTT_MS)
        rebuffer_ms = max(delay_ms - self.buffer_ms, 0.0)
        self.buffer_ms = max(self.buffer_ms - delay_ms, 0.0) + CHUNK_MS
        sleep_ms = 0.0
        if self.buffer_ms > BUFFER_THRESH_MS:
            sleep_ms = math.ceil((self.buffer_ms - BUFFER_THRESH_MS) / DRAIN_SLEEP_MS) * DRAIN_SLEEP_MS
            self.buffer_ms -= sleep_ms
            left_ms = self.link.idle_ms(self.state, sleep_ms)
            if self.compat:
                sleep_ms = left_ms
        index = self.chunk_index
        self.chunk_index += 1
        return ChunkResult(
            level=level,
            chunk_index=index,
            size_bytes=size,
            delay_ms=delay_ms,
            sleep_ms=sleep_ms,
            rebuffer_ms=rebuffer_ms,
            buffer_ms=self.buffer_ms,
            end_of_video=self.chunk_index >= self.video.total_chunks,
        )

    @property
    def position_s(self) -> float:
        return self.link.position_s(self.state)
