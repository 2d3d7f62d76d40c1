"""The simulator core: the reference rules, and the vectorised view agreeing with the exact walk."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.models.abr.env import play
from streamlab.models.abr.policies.base import Observation, Policy
from streamlab.models.abr.simulator import Link, Simulator
from streamlab.models.abr.traces import Trace


class _Fixed(Policy):
    name = "fixed"

    def __init__(self, levels: list[int]) -> None:
        self.levels = levels

    def select(self, obs: Observation) -> int:
        return self.levels[min(obs.chunk_index, len(self.levels) - 1)]


def _trace(rows: list[tuple[float, float]]) -> Trace:
    times = np.cumsum([0.0] + [gap for gap, _ in rows])
    rates = np.array([1.0] + [r for _, r in rows])
    return Trace("generated", times, rates)


_links = st.lists(st.tuples(st.floats(0.05, 5.0), st.floats(0.0, 8.0)), min_size=1, max_size=30).filter(
    lambda rows: any(r > 0.05 for _, r in rows)
)


def test_constant_link_download_time_is_size_over_payload_rate_plus_rtt(video):
    trace = Trace("flat", np.arange(0.0, 1000.0), np.full(1000, 2.0))
    sim = Simulator(trace, video)
    result = sim.download(1)
    expected_ms = video.size_bytes(1, 0) / (2.0e6 / 8 * 0.95) * 1000.0 + 80.0
    assert abs(result.delay_ms - expected_ms) < 1e-6
    assert result.rebuffer_ms == result.delay_ms  # the buffer starts empty
    assert result.buffer_ms == 4000.0


def test_buffer_is_capped_with_whole_half_second_sleeps(video):
    trace = Trace("fast", np.arange(0.0, 1000.0), np.full(1000, 100.0))
    sim = Simulator(trace, video)
    results = [sim.download(0) for _ in range(20)]
    slept = [r for r in results if r.sleep_ms > 0]
    assert slept, "a fast link must fill the buffer past the 60 s cap"
    assert all(r.buffer_ms <= 60_000.0 for r in results)
    assert all(r.buffer_ms > 59_500.0 for r in slept)


@given(_links, st.lists(st.integers(0, 5), min_size=48, max_size=48), st.booleans())
@settings(max_examples=40, deadline=None)
def test_session_invariants_hold_on_any_trace(rows, levels, compat):
    from streamlab.models.abr.video import load_video
    from streamlab.core import project

    video = load_video(project.raw_data_dir() / "abr" / "video_sizes")
    log = play(_Fixed(levels), _trace(rows), video, compat)
    assert len(log.chunks) == 48
    assert log.chunks[0].bitrate_kbps == 750
    for chunk in log.chunks:
        assert 0.0 <= chunk.buffer_s <= 60.0
        assert chunk.rebuffer_s >= 0.0
        assert chunk.download_ms >= 80.0
    assert all(b.time_s > a.time_s for a, b in zip(log.chunks, log.chunks[1:], strict=False))


@given(_links, st.lists(st.floats(1_000.0, 3_000_000.0), min_size=1, max_size=30), st.booleans())
@settings(max_examples=60, deadline=None)
def test_vectorised_download_matches_the_exact_walk(rows, sizes, compat):
    link = Link(_trace(rows), compat)
    state = link.start()
    for size in sizes:
        before = link.position_s(state)
        walked = link.download_s(state, size)
        vector = float(link.download_vec(np.array([before]), np.array([size]))[0])
        assert abs(walked - vector) <= 1e-6 * max(1.0, walked)
        assert abs(link.position_s(state) - (before + walked)) <= 1e-6 * max(1.0, before + walked)


def test_wrap_restarts_at_clock_zero_in_compat_mode():
    trace = Trace("offset", np.array([10.0, 11.0, 12.0]), np.array([0.0, 8.0, 8.0]))
    link = Link(trace, compat=True)
    state = link.start()
    link.download_s(state, 1e6 * 0.95 * 2.5)  # 2.5 s of payload: both lines, then the wrap
    assert state.passes == 1
    # after the wrap line 1 spans (0, 11]: 11 s at 1 MB/s before line 2
    assert state.ptr == 1
    assert abs(state.clock_s - 0.5) < 1e-9
