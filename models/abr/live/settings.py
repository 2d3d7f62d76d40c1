"""Typed live-mode settings (``configs/abr.yaml`` ``live:``): the stream's timing and the live QoE weights.

They live in the models layer (not with the training settings) because the simulator, the
evaluation, the live decision and the training all read them; ``TrainSettings.live`` is this model.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class LiveQoEWeights(BaseModel):
    """Weights of the live QoE (the ACM MMSys 2020 Twitch low-latency grand challenge's form, see
    :mod:`streamlab.models.abr.live.qoe`): per segment, bitrate in Mbit/s, stall and latency in s."""

    bitrate: float = Field(1.0, ge=0)
    """alpha: QoE per Mbit/s of the segment's bitrate."""
    rebuffer: float = Field(4.3, ge=0)
    """beta: QoE lost per second of stall (the ladder's top bitrate, as the VOD QoE_lin)."""
    switch: float = Field(1.0, ge=0)
    """sigma: QoE lost per Mbit/s of bitrate change between consecutive segments."""
    latency_low: float = Field(0.05, ge=0)
    """gamma while the latency is at or below ``latency_knee_s`` (per s of latency, per segment)."""
    latency_high: float = Field(0.1, ge=0)
    """gamma above the knee: latency costs twice as much once it is no longer near-second."""
    latency_knee_s: float = Field(1.1, gt=0)
    playback_rate: float = Field(0.5, ge=0)
    """mu: QoE lost per unit of |1 - playback rate| (a 5% speed change costs 0.025 per segment)."""


class LivePlanSettings(BaseModel):
    """The learned live policy's knob grid (chosen on the training traces, never on validation)."""

    horizon: list[int] = [3]
    risk: list[float] = [0.0, 0.5, 1.0]
    smooth_weight: list[float] = [0.5, 1.0]
    latency_weight: list[float] = [1.0]
    scenario_quantiles: list[float] = [0.1, 0.3, 0.5, 0.7, 0.9]


class LiveSettings(BaseModel):
    """An LL-HLS / LL-DASH stream as the player sees it: segments of parts published in real time."""

    segment_s: float = Field(2.0, gt=0, le=10)
    parts_per_segment: int = Field(6, ge=1, le=20)
    """2 s segments of 6 parts: 0.333 s parts, Apple's recommended LL-HLS part target."""
    target_latency_s: float = Field(2.0, gt=0, le=30)
    """The latency the player aims for (live edge minus playhead); the player starts there."""
    min_rate: float = Field(0.95, gt=0, le=1)
    max_rate: float = Field(1.05, ge=1, le=2)
    rtt_ms: float = Field(80.0, ge=0, le=2000)
    """Round trip per part request (Pensieve's 80 ms link RTT); a request sent before its part exists
    waits at the server (blocking preload hint), so only the half-RTT back is paid then."""
    startup_buffer_s: float = Field(0.5, ge=0, le=10)
    """Media buffered before playback starts."""
    session_segments: int = Field(60, ge=2, le=10_000)
    """Segments per session (60 x 2 s: two minutes of a live channel)."""
    join_media_s: float = Field(600.0, ge=0)
    """Where the stream's live edge is when the player joins (it has been live that long)."""
    qoe: LiveQoEWeights = LiveQoEWeights()
    planner: LivePlanSettings = LivePlanSettings()
    rollout_episodes_per_trace: int = Field(3, ge=1)
    output: str = "models/abr/weights/learned_live.npz"

    @property
    def part_s(self) -> float:
        return self.segment_s / self.parts_per_segment

    @model_validator(mode="after")
    def _target_reachable(self) -> LiveSettings:
        if self.target_latency_s < self.part_s:
            raise ValueError(
                f"target_latency_s {self.target_latency_s} is below one part ({self.part_s:.3f} s): "
                "the player cannot be closer to the live edge than the part being published"
            )
        return self
