"""A per-session bandwidth shaper that replays a throughput trace on a real HTTP response.

The session runs on the *trace's* clock: a download of ``n`` bytes starting at trace time ``t``
takes exactly the time the trace needs to deliver them (plus a fixed RTT), so results do not
depend on how loaded the machine is. The bytes themselves are read from the real response and
paced to that schedule in wall time divided by ``time_scale`` (10: ten trace seconds per wall
second), so the server sees a slow reader and concurrent sessions really overlap.

Trace semantics are the simulator's (Mahimahi "cooked"): sample ``i`` holds the rate over
``(t[i-1], t[i]]``, and the trace repeats when it ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from streamlab.models.abr.traces import Trace


class TraceLink:
    """Cumulative bytes the trace delivers over time, and its inverse, wrapping at the trace's end."""

    def __init__(self, trace: Trace) -> None:
        times = np.asarray(trace.time_s, dtype=float) - float(trace.time_s[0])
        rates_bytes_s = np.asarray(trace.bandwidth_mbps, dtype=float)[1:] * 1e6 / 8.0
        cumulative = np.concatenate([[0.0], np.cumsum(rates_bytes_s * np.diff(times))])
        self.name = trace.name
        self.times = times
        self.period_s = float(times[-1])
        self.period_bytes = float(cumulative[-1])
        self.cumulative = cumulative + np.arange(len(cumulative)) * 1e-9  # strictly increasing for the inverse

    def delivered_bytes(self, t_s: float) -> float:
        cycles, within = divmod(t_s, self.period_s)
        return cycles * self.period_bytes + float(np.interp(within, self.times, self.cumulative))

    def time_at(self, total_bytes: float) -> float:
        cycles, within = divmod(total_bytes, self.period_bytes)
        return cycles * self.period_s + float(np.interp(within, self.cumulative, self.times))

    def transfer_s(self, start_s: float, n_bytes: float) -> float:
        """Trace seconds to deliver ``n_bytes`` starting at trace time ``start_s``."""
        return self.time_at(self.delivered_bytes(start_s) + n_bytes) - start_s


class EdgeStalled(Exception):
    """The server delivered bytes later than the shaped link would have, by more than allowed."""


@dataclass
class Download:
    bytes: int
    transfer_s: float
    """Trace seconds from request to last byte, RTT included."""
    lag_s: float = 0.0
    """Wall seconds the slowest byte arrived after the link's schedule: the server (or this
    process) was the bottleneck, not the trace. Near 0 when the edge keeps up."""
    arms: str | None = None
    """The response's ``X-Streamlab-Arms`` (set by :func:`~streamlab.streaming.headless.player.fetch`)."""


class Shaper:
    """Owns one session's link clock; :meth:`pace` reads a response body at the trace's rate."""

    def __init__(self, trace: Trace, time_scale: float, rtt_s: float, start_s: float = 0.0) -> None:
        self.link = TraceLink(trace)
        self.time_scale = time_scale
        self.rtt_s = rtt_s
        self.clock_s = start_s

    def pace(self, chunks: Iterable[bytes], started_wall: float | None = None, max_lag_s: float = float("inf")) -> Download:
        """Consume ``chunks`` (the response body), sleeping so each arrives when the trace delivers it.

        ``started_wall`` is when the request was sent (default: now). A chunk that arrives more
        than ``max_lag_s`` wall seconds after its due time raises :class:`EdgeStalled`: the trace
        clock would hide a slow server, so a server that falls that far behind is an error.
        """
        start_trace = self.clock_s + self.rtt_s
        start_wall = time.monotonic() if started_wall is None else started_wall
        wall_origin = start_wall + self.rtt_s / self.time_scale
        total = 0
        lag_s = 0.0
        due = wall_origin
        for chunk in chunks:
            late = time.monotonic() - due  # this chunk was wanted as soon as the previous one was due
            if late > lag_s:
                lag_s = late
                if lag_s > max_lag_s:
                    raise EdgeStalled(f"bytes {lag_s:.1f} s behind the link's schedule after {total} bytes")
            total += len(chunk)
            due = wall_origin + self.link.transfer_s(start_trace, total) / self.time_scale
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        transfer = self.rtt_s + self.link.transfer_s(start_trace, total)
        self.advance(transfer)
        return Download(total, transfer, max(lag_s, 0.0))

    def advance(self, seconds: float) -> None:
        """Trace time passing without a download (decisions, sleeping on a full buffer)."""
        self.clock_s += seconds

    def idle(self, seconds: float) -> None:
        """Wait ``seconds`` of trace time (scaled to wall time) and advance the clock."""
        time.sleep(seconds / self.time_scale)
        self.advance(seconds)
