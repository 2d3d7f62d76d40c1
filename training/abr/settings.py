"""Typed settings for ``configs/abr.yaml`` (training and evaluation defaults)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from streamlab.core.registry import CHAMPION
from streamlab.models.abr.live.settings import LiveSettings


class DataSettings(BaseModel):
    traces: Path = Path("data/raw/abr/train_traces")
    video_sizes: Path = Path("data/raw/abr/video_sizes")


class SplitSettings(BaseModel):
    validation_fraction: float = Field(0.25, gt=0.0, lt=1.0)
    seed: int = 7
    selection_rotations: int = Field(1, ge=0)
    """Copies of each *training* trace, started at a random line, that (with the originals and the
    drop copies) choose the planner knobs. Validation traces never choose anything: they are the
    held-out report."""
    selection_drop_copies: int = Field(1, ge=0)
    """Copies of each training trace with deep throughput drops added
    (:func:`streamlab.training.abr.rollouts.with_drops`) in the knob-selection set."""
    selection_session_drop_copies: int = Field(0, ge=0)
    """Copies of each training trace with sudden deep drops inside the part a session plays
    (:func:`streamlab.training.abr.rollouts.session_drops`) in the knob-selection set."""
    selection_stress_copies: int = Field(0, ge=0)
    """Copies of each training trace with car-like drops (:func:`streamlab.training.abr.rollouts.car_like_drops`)
    that join the knob choice as a *stress* set: its QoE is pooled with the selection set's and also reported
    apart (``stress_qoe``), so knobs that only shine on calm copies are not chosen."""


class RolloutSettings(BaseModel):
    episodes_per_trace: int = Field(4, ge=1)
    scale_min: float = Field(0.6, gt=0.0)
    scale_max: float = Field(1.6, gt=0.0)
    epsilon: float = Field(0.2, ge=0.0, le=1.0)
    seed: int = 0
    drop_probability: float = Field(0.0, ge=0.0, le=1.0)
    """Share of rollout episodes on a trace with deep drops added (:func:`~streamlab.training.abr.rollouts.with_drops`)."""


class PredictorSettings(BaseModel):
    hidden: list[int] = [64, 64]
    quantiles: list[float] = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    steps: int = Field(6, ge=1)
    """Look-ahead steps predicted: the goodput over the next 1..steps chunks together."""
    epochs: int = Field(40, ge=1)
    batch_size: int = 512
    lr: float = 3e-3
    weight_decay: float = 1e-5
    seed: int = 0
    members: int = Field(1, ge=1, le=16)
    """Nets fitted from seeds ``seed .. seed + members - 1`` and averaged into one
    (:meth:`~streamlab.models.abr.policies.quantile_net.QuantileNet.ensemble`)."""


class PlannerGrid(BaseModel):
    horizon: list[int] = [5, 6]
    free_steps: list[int] = [4]
    risk: list[float] = [1.0, 2.0]
    buffer_value_per_s: list[float] = [0.05, 0.1, 0.15, 0.2]
    buffer_value_cap_s: float = 20.0
    smooth_weight: list[float] = [1.0]
    switch_margin: list[float] = [0.0]
    """Hysteresis margins tried (:attr:`~streamlab.models.abr.policies.learned.PlannerKnobs.switch_margin`)."""
    volatility_tilt: list[float] = [0.0]
    """Scenario cuts after a volatile history tried
    (:attr:`~streamlab.models.abr.policies.learned.PlannerKnobs.volatility_tilt`)."""
    scenario_quantiles: list[float] = [0.1, 0.3, 0.5, 0.7, 0.9]


class TrackingSettings(BaseModel):
    """The run logs to the family's experiment and registers as the family's model
    (:data:`streamlab.models.abr.family.FAMILY`); the new version takes ``alias`` only if it beats the holder."""

    register_model: bool = True
    alias: str = CHAMPION


class TrainSettings(BaseModel):
    compat: bool = True
    data: DataSettings = DataSettings()
    split: SplitSettings = SplitSettings()
    rollouts: RolloutSettings = RolloutSettings()
    predictor: PredictorSettings = PredictorSettings()
    planner: PlannerGrid = PlannerGrid()
    tracking: TrackingSettings = TrackingSettings()
    output: Path = Path("models/abr/weights/learned.npz")
    validation_policies: list[str] = ["bba", "rate", "bola", "robustmpc", "oracle"]
    live: LiveSettings = LiveSettings()
    """Live mode: the stream, the live QoE weights and the learned live policy's knob grid."""
