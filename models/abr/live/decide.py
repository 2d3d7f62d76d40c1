"""The live decision: a live ``/abr/decide`` request in, a rung and a playback rate out.

The live counterpart of :func:`streamlab.models.abr.decide.decide`, on the same wire types
(:class:`~streamlab.models.abr.decide.AbrDecideRequest` with ``mode: live``): the request's
``samples`` are whole-segment downloads (bytes, first byte to last byte), ``buffer_s`` and
``latency_s`` the player's state. Stateless, so many threads may call it at once; the simulator's
learned live policy decides through it too (:func:`observation_request`).

The plan count is ``levels ** horizon``; a long ladder plans fewer segments ahead so it stays
within :data:`~streamlab.models.abr.policies.planner.MAX_PLANS` (6 rungs keep the tuned horizon).
:func:`decide_live_fallback` is the answer without a model (hls.js's rung rule on the request's
samples, LoL+'s rate rule): what a server without the live checkpoint, or with a failing one, returns.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from streamlab.models.abr.decide import AbrDecideRequest, AbrDecision, Rung, ThroughputSample, size_matrix
from streamlab.models.abr.live.base import LiveObservation
from streamlab.models.abr.live.catchup import hybrid_rate
from streamlab.models.abr.live.hlsjs import EwmaBandwidthEstimator, choose_level
from streamlab.models.abr.live.planner import live_plan_scores
from streamlab.models.abr.live.settings import LiveSettings
from streamlab.models.abr.policies.planner import affordable_free_steps, plan_table

if TYPE_CHECKING:
    from streamlab.models.abr.live.learned import LearnedLivePolicy

LIVE_REMAINING_CHUNKS = 48
"""A live stream never ends: the forecaster's "chunks remaining" feature always reads a whole title ahead."""
MAX_LIVE_HISTORY = 16
"""Whole-segment downloads a decision reads (the forecaster's features use the last 8)."""


def request_settings(base: LiveSettings, request: AbrDecideRequest) -> LiveSettings:
    """The policy's live settings with the request's segment, part and target durations."""
    segment = request.segment_duration_s
    part = request.part_duration_s or base.part_s
    update = {"segment_s": segment, "parts_per_segment": max(1, round(segment / part))}
    if request.target_latency_s is not None:
        update["target_latency_s"] = request.target_latency_s
    return base.model_copy(update=update)


def _rate(settings: LiveSettings, request: AbrDecideRequest) -> float:
    return float(hybrid_rate(request.latency_s or 0.0, request.buffer_s, settings.target_latency_s,
                             settings.min_rate, settings.max_rate))


def decide_live(policy: LearnedLivePolicy, request: AbrDecideRequest) -> AbrDecision:
    """The learned live policy's rung and playback rate for ``request``; the policy's state is not touched."""
    settings = request_settings(policy.settings, request)
    rate = _rate(settings, request)
    if not request.samples:
        return AbrDecision(rung=0, bitrate_kbps=request.ladder[0].bitrate_kbps, source="model", playback_rate=rate,
                           reason="learned-live: no segment downloaded yet, lowest rung")
    history = [s.bytes / (s.download_ms / 1000.0) for s in request.samples[-MAX_LIVE_HISTORY:]]
    levels = len(request.ladder)
    horizon = affordable_free_steps(levels, policy.knobs.horizon)
    goodputs = policy.forecaster.goodput_scenarios(LIVE_REMAINING_CHUNKS, horizon, history)
    rates = tuple(r.bitrate_kbps for r in request.ladder)
    scores = live_plan_scores(request.buffer_s, float(request.latency_s or 0.0), request.last_rung,
                              size_matrix(request, horizon), rates, goodputs, policy.forecaster.weights, settings,
                              policy.knobs.smooth_weight, policy.knobs.latency_weight)
    plan = plan_table(levels, horizon, horizon)[int(np.argmax(scores))]
    median_kbps = float(np.median(goodputs[:, 0])) * 8 / 1000
    if not math.isfinite(median_kbps):
        raise ValueError("the model produced a non-finite throughput forecast")
    rung = int(plan[0])
    return AbrDecision(
        rung=rung,
        bitrate_kbps=request.ladder[rung].bitrate_kbps,
        source="model",
        playback_rate=rate,
        reason=(f"learned-live: forecast {median_kbps:.0f} kbit/s, buffer {request.buffer_s:.2f} s, "
                f"latency {request.latency_s:.2f} s, plan {plan.tolist()}, rate {rate:.3f}"),
    )


def decide_live_fallback(request: AbrDecideRequest, settings: LiveSettings | None = None) -> AbrDecision:
    """Without a model: hls.js's rung rule over the request's downloads and LoL+'s rate rule."""
    settings = request_settings(settings or LiveSettings(), request)
    estimator = EwmaBandwidthEstimator()
    for sample in request.samples[-MAX_LIVE_HISTORY:]:
        estimator.sample(sample.download_ms, sample.bytes)
    rung = choose_level(estimator.estimate_bps(), tuple(r.bitrate_kbps for r in request.ladder), request.last_rung)
    rate = _rate(settings, request)
    return AbrDecision(rung=rung, bitrate_kbps=request.ladder[rung].bitrate_kbps, source="fallback", playback_rate=rate,
                       reason=f"hlsjs-ewma: estimate {estimator.estimate_bps() / 1000:.0f} kbit/s, rate {rate:.3f}")


def observation_request(obs: LiveObservation) -> AbrDecideRequest:
    """The live request a player in state ``obs`` sends: its whole-segment downloads, buffer, latency, ladder."""
    from streamlab.models.abr.live.learned import segment_samples

    s = obs.settings
    done = obs.segment_index * s.parts_per_segment + obs.part_index
    segments = segment_samples(obs.samples, s.parts_per_segment, done)[-MAX_LIVE_HISTORY:]
    return AbrDecideRequest.model_construct(
        buffer_s=obs.buffer_s,
        last_rung=obs.last_level,
        chunks_remaining=max(1, obs.segments_remaining),
        segment_duration_s=s.segment_s,
        samples=[ThroughputSample.model_construct(bytes=round(b), download_ms=max(ms, 1e-3)) for b, ms in segments],
        ladder=[Rung.model_construct(bitrate_kbps=float(rate), chunk_sizes_bytes=[round(x) for x in sizes.tolist()])
                for rate, sizes in zip(obs.bitrates_kbps, obs.next_sizes_bytes, strict=True)],
        session_id=None,
        mode="live",
        latency_s=obs.latency_s,
        target_latency_s=s.target_latency_s,
        playback_rate=obs.playback_rate,
        part_duration_s=s.part_s,
    )
