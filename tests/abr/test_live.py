"""Live mode: the simulator's live edge, startup and catch-up; the live QoE; the baselines' rules;
the learned live decision and its wire contract."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from streamlab.models.abr.decide import AbrDecideRequest
from streamlab.models.abr.live.base import LiveAction, LiveObservation, LivePolicy, PartSample
from streamlab.models.abr.live.catchup import dashjs_default_rate, hlsjs_rate, lolp_rate
from streamlab.models.abr.live.hlsjs import EwmaBandwidthEstimator, choose_level
from streamlab.models.abr.live.l2a import L2ALowLatency, euclidean_projection
from streamlab.models.abr.live.qoe import segment_qoe
from streamlab.models.abr.live.session import play_live
from streamlab.models.abr.live.settings import LiveQoEWeights, LiveSettings
from streamlab.models.abr.live.simulator import LiveSimulator, LiveTitle
from streamlab.models.abr.traces import Trace


def flat_trace(mbps: float, seconds: float = 400.0) -> Trace:
    times = np.arange(0.0, seconds + 1.0, 1.0)
    return Trace(f"flat{mbps}", times, np.full(len(times), mbps))


class Fixed(LivePolicy):
    """A constant rung and rate (records what it saw)."""

    name = "fixed"

    def __init__(self, level: int, rate: float = 1.0) -> None:
        self.level, self.rate = level, rate
        self.seen: list[LiveObservation] = []

    def act(self, obs: LiveObservation) -> LiveAction:
        self.seen.append(obs)
        return LiveAction(self.level, self.rate)


@pytest.fixture(scope="module")
def settings() -> LiveSettings:
    return LiveSettings(session_segments=30, target_latency_s=2.0)


@pytest.fixture(scope="module")
def title(video, settings) -> LiveTitle:
    return LiveTitle(video, settings)


def test_startup_is_at_the_live_edge_minus_the_target_latency(title, settings) -> None:
    sim = LiveSimulator(flat_trace(50.0), title)
    assert settings.target_latency_s <= sim.latency_s < settings.target_latency_s + settings.part_s


def test_a_fast_link_cannot_fetch_ahead_of_the_live_edge(title, settings) -> None:
    """With a 50 Mbit/s link every part after the head start waits for the encoder: the session takes
    (almost) real time, and the buffer never holds more than the latency."""
    sim = LiveSimulator(flat_trace(50.0), title)
    waits = []
    for segment in range(settings.session_segments):
        for _ in range(settings.parts_per_segment):
            result = sim.fetch_part(0, segment, 1.0)
            waits.append(result.wait_s)
            assert sim.buffer_s <= sim.latency_s + 1e-9
    media_s = settings.session_segments * settings.segment_s
    assert sim.wall_s >= media_s - settings.target_latency_s - settings.part_s
    assert sum(w > 0 for w in waits) > 0.8 * len(waits)


def test_catch_up_takes_latency_back_at_the_clamped_rate(title, settings) -> None:
    """Asking for 2x plays at the 1.05 cap: over ~60 s of playback the latency falls by ~5% of it."""
    fast = play_live(Fixed(0, 2.0), flat_trace(50.0), title)
    normal = play_live(Fixed(0, 1.0), flat_trace(50.0), title)
    assert max(s.playback_rate for s in fast.segments) <= settings.max_rate + 1e-9
    assert fast.segments[-1].latency_s < normal.segments[-1].latency_s - 1.0
    assert normal.segments[-1].latency_s == pytest.approx(normal.segments[2].latency_s, abs=0.3)


def test_slow_down_below_one_lets_latency_grow(title) -> None:
    slow = play_live(Fixed(0, 0.5), flat_trace(50.0), title)
    assert min(s.playback_rate for s in slow.segments[1:]) == pytest.approx(0.95)
    assert slow.segments[-1].latency_s > slow.segments[1].latency_s + 1.0


def test_a_link_below_the_rung_stalls_and_the_stall_adds_to_latency(title) -> None:
    log = play_live(Fixed(5), flat_trace(1.0), title)
    score = log.score
    assert score.stall_s > 5.0
    assert log.segments[-1].latency_s > log.segments[0].latency_s + 0.8 * (score.stall_s - 1.0)


def test_rung_changes_only_at_segment_boundaries(title) -> None:
    class Flip(Fixed):
        def act(self, obs):
            return LiveAction(obs.part_index % 2, 1.0)

    log = play_live(Flip(0), flat_trace(20.0), title)
    assert {s.level for s in log.segments} == {0}  # every segment starts at part 0 -> rung 0


def test_live_qoe_follows_the_challenge_form() -> None:
    w = LiveQoEWeights()
    # 1.2 Mbit/s after 0.75: +1.2 - 0.45 switch - 4.3 x 0.5 stall - 0.1 x 2 s latency - 0.5 x 0.05 rate
    assert float(segment_qoe(1200, 750, 0.5, 2.0, 0.05, w)) == pytest.approx(1.2 - 0.45 - 2.15 - 0.2 - 0.025)
    # at or below the 1.1 s knee latency costs the low weight
    assert float(segment_qoe(300, 300, 0.0, 1.0, 0.0, w)) == pytest.approx(0.3 - 0.05)


def test_hlsjs_ewma_tracks_a_constant_rate_and_uses_the_default_before_samples() -> None:
    estimator = EwmaBandwidthEstimator()
    assert estimator.estimate_bps() == 500_000.0
    for _ in range(5):
        estimator.sample(200.0, 50_000)  # 2 Mbit/s
    assert estimator.estimate_bps() == pytest.approx(2_000_000.0)


def test_hlsjs_steps_up_only_under_the_up_factor() -> None:
    rates = (300, 750, 1200, 1850, 2850, 4300)
    assert choose_level(2_000_000.0, rates, current=1) == 2  # 0.7 x 2000 = 1400 >= 1200, < 1850
    assert choose_level(2_000_000.0, rates, current=3) == 3  # stays: 0.95 x 2000 = 1900 >= 1850
    assert choose_level(100_000.0, rates, current=3) == 0


def _obs(settings: LiveSettings, latency: float, buffer: float, rate: float = 1.0) -> LiveObservation:
    return LiveObservation(0, 1, buffer, latency, rate, 0, True, (), np.ones((6, 1)), (300, 750, 1200, 1850, 2850, 4300),
                           10, settings)


def test_catch_up_rules(settings) -> None:
    assert hlsjs_rate(_obs(settings, 3.0, 2.0)) == pytest.approx(1.05)
    assert hlsjs_rate(_obs(settings, 1.0, 1.0)) == 1.0  # hls.js never slows down
    assert hlsjs_rate(_obs(settings, 3.0, 0.5)) == 1.0  # not with less than 1 s buffered
    assert lolp_rate(_obs(settings, 3.0, 0.2)) < 1.0  # LoL+: a low buffer slows down even when late
    assert 1.0 < lolp_rate(_obs(settings, 2.5, 1.5)) <= 1.05
    assert lolp_rate(_obs(settings, 2.01, 1.5)) == 1.0  # within 2% of target
    assert 0.95 <= dashjs_default_rate(_obs(settings, 1.5, 1.4)) < 1.0


def test_euclidean_projection_is_onto_the_simplex() -> None:
    w = euclidean_projection(np.array([0.9, 0.4, -0.2, 0.1]))
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0)
    p = np.array([0.2, 0.3, 0.5])
    assert euclidean_projection(p) == pytest.approx(p)
    assert euclidean_projection(np.array([1e20, 0.0])).sum() > 0  # no crash when Q has grown huge


def test_l2a_steps_down_when_throughput_collapses(title) -> None:
    times = np.arange(0.0, 401.0)
    trace = Trace("drop", times, np.where(times < 40, 6.0, 0.5))
    log = play_live(L2ALowLatency(), trace, title)
    assert max(s.level for s in log.segments[:15]) >= 3
    assert max(s.level for s in log.segments[-8:]) <= 1


def test_live_request_needs_latency_and_a_part_within_the_segment() -> None:
    base = {"buffer_s": 1.0, "last_rung": 0, "chunks_remaining": 10, "segment_duration_s": 2.0,
            "ladder": [{"bitrate_kbps": 300}, {"bitrate_kbps": 1200}], "mode": "live"}
    with pytest.raises(ValidationError, match="latency_s"):
        AbrDecideRequest.model_validate(base)
    with pytest.raises(ValidationError, match="part_duration_s"):
        AbrDecideRequest.model_validate({**base, "latency_s": 2.0, "part_duration_s": 3.0})
    with pytest.raises(ValidationError, match="mode"):
        AbrDecideRequest.model_validate({**base, "latency_s": 2.0, "mode": "dvr"})
    AbrDecideRequest.model_validate({**base, "latency_s": 2.0, "part_duration_s": 0.333})


def test_part_samples_group_into_whole_segments() -> None:
    from streamlab.models.abr.live.learned import segment_samples

    parts = [PartSample(100.0 * (i + 1), 10.0, 0.0) for i in range(8)]  # 2 whole 3-part segments + 2 parts
    assert segment_samples(parts, 3, 8) == [(600.0, 30.0), (1500.0, 30.0)]
    assert segment_samples(parts[1:], 3, 8) == [(1500.0, 30.0)]  # a window that cuts a segment drops it
