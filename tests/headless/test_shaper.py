"""The shaper delivers bytes on the trace's schedule and paces the real reads to it."""

from __future__ import annotations

import time

import numpy as np
import pytest

from streamlab.models.abr.traces import Trace
from streamlab.streaming.headless.shaper import Shaper, TraceLink


def flat(mbps: float, seconds: int = 10) -> Trace:
    return Trace("flat", np.arange(seconds + 1, dtype=float), np.full(seconds + 1, mbps))


def test_constant_link_takes_size_over_rate() -> None:
    link = TraceLink(flat(8.0))  # 1 MB/s
    assert link.transfer_s(0.0, 1_000_000) == pytest.approx(1.0)
    assert link.transfer_s(3.5, 2_500_000) == pytest.approx(2.5)


def test_trace_repeats_after_its_end() -> None:
    link = TraceLink(flat(8.0, seconds=2))
    assert link.transfer_s(1.5, 3_000_000) == pytest.approx(3.0)


def test_a_dead_interval_is_waited_out() -> None:
    trace = Trace("gap", np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 8.0, 0.0, 8.0]))
    link = TraceLink(trace)  # 1 MB/s in (0,1], nothing in (1,2], 1 MB/s in (2,3]
    assert link.transfer_s(0.0, 1_500_000) == pytest.approx(2.5, abs=1e-6)


def test_real_trace_matches_its_integral(traces) -> None:
    trace = traces[0]
    link = TraceLink(trace)
    seconds = link.transfer_s(0.0, 2_000_000)
    t, mbps = np.asarray(trace.time_s) - trace.time_s[0], np.asarray(trace.bandwidth_mbps)
    fine = np.linspace(0.0, seconds, 20_001)
    rate = mbps[np.clip(np.searchsorted(t, fine, side="left"), 1, len(t) - 1)] * 1e6 / 8
    assert np.trapezoid(rate, fine) == pytest.approx(2_000_000, rel=0.01)


def test_pace_sleeps_to_the_scaled_schedule_and_advances_the_clock() -> None:
    shaper = Shaper(flat(8.0), time_scale=10.0, rtt_s=0.0)
    started = time.monotonic()
    download = shaper.pace(b"x" * 50_000 for _ in range(10))  # 500 kB: 0.5 trace s = 50 ms wall
    wall = time.monotonic() - started
    assert download.bytes == 500_000 and download.transfer_s == pytest.approx(0.5)
    assert 0.045 <= wall < 0.5
    assert shaper.clock_s == pytest.approx(0.5)
