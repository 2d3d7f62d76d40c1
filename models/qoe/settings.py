"""Typed settings for ``configs/qoe.yaml`` (loaded with :func:`streamlab.configs.load_config`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from streamlab.core.config import load_config
from streamlab.models.qoe.eb import EbSettings
from streamlab.models.qoe.scores import ScoreSettings


class RegionSettings(BaseModel):
    share: float = Field(gt=0)
    edges: int = Field(ge=1, le=50)
    throughput_scale: float = Field(gt=0)


class DeviceSettings(BaseModel):
    share: float = Field(gt=0)
    throughput_scale: float = Field(gt=0)
    errors_per_min: float = Field(ge=0)


class PopulationSettings(BaseModel):
    start_epoch_s: float = 1767571200.0
    sessions_per_day: float = Field(100000, gt=0)
    diurnal_amplitude: float = Field(0.6, ge=0, lt=1)
    peak_hour_utc: float = Field(20.0, ge=0, lt=24)
    heartbeat_s: float = Field(20.0, gt=0)
    viewers: int = Field(20000, ge=1)
    titles: int = Field(40, ge=1)
    title_zipf: float = Field(0.9, ge=0)
    completion_fraction: float = Field(0.6, ge=0, le=1)
    session_throughput_sigma: float = Field(0.35, ge=0)
    edge_scale_sigma: float = Field(0.12, ge=0)
    origin_latency_s: float = Field(0.3, gt=0)
    base_failure_rate: float = Field(0.004, ge=0, le=1)
    regions: dict[str, RegionSettings]
    devices: dict[str, DeviceSettings]


class AbrSettings(BaseModel):
    traces: str = "data/raw/abr/train_traces"
    video_sizes: str = "data/raw/abr/video_sizes"
    policy: str = "rate"
    offsets: int = Field(4, ge=1)
    scales: list[float] = Field(min_length=1)
    max_traces: int | None = Field(None, ge=1)


class IncidentMixSettings(BaseModel):
    per_day: tuple[int, int] = (3, 6)
    duration_min: tuple[float, float] = (15.0, 60.0)
    gap_min: float = 30.0
    title_top_k: int = Field(3, ge=1)
    edge_collapse: dict[str, float] = {"throughput_factor": 0.12}
    region_collapse: dict[str, float] = {"throughput_factor": 0.2}
    origin_slowness: dict[str, tuple[float, float]] = {"extra_startup_s": (5.0, 12.0)}
    broken_encode: dict[str, float] = {"failure_probability": 0.85}
    abr_regression: dict[str, int] = {"jump_levels": 3}
    app_bug: dict[str, float] = {"failure_probability": 0.35, "errors_per_min": 1.5}


class DetectionSettings(BaseModel):
    window_s: float = Field(30.0, gt=0)
    context_windows: int = Field(2, ge=1)
    min_units: int = Field(3, ge=1)
    confirm_windows: int = Field(2, ge=1)
    instant_ratio: float = Field(2.0, ge=1.0)
    """A window scoring this many times the threshold opens an alert without waiting for confirmation."""
    close_after_windows: int = Field(4, ge=1)
    max_causes_per_window: int = Field(3, ge=1)
    heartbeat_clustering: float = Field(3.0, ge=1.0)
    cusum_reference: float = Field(0.5, gt=0.0, lt=1.0)
    """The slow lane's reference ``k`` as a fraction of the threshold (:mod:`streamlab.models.qoe.cusum`)."""


class StreamLimits(BaseModel):
    """Bounds on what a stream of beacons can make the streaming detector hold or do (issue 20).

    Runtime limits, not part of a trained artifact: read from ``configs/qoe.yaml`` (``streaming:``) by whoever
    runs the stream, so an operator changes them without retraining. Sized for ~10x the nominal load
    (a simulated evening peak is ~3,300 heartbeats per 30 s window and ~2,500 live sessions).
    """

    max_future_s: float = Field(120.0, gt=0)
    """With a wall clock (the served detector): a beacon stamped further ahead of it is refused."""
    max_jump_windows: int = Field(10, ge=1)
    """A beacon this many windows away from the open window is an outlier: it cannot move the clock alone."""
    clock_quorum: int = Field(16, ge=2)
    """The clock follows an outlier only when most of the last this-many beacons agree with it."""
    max_groups: int = Field(10_000, ge=1)
    """Groups beyond the model's own (names first seen in the stream); the least recently seen go first."""
    group_idle_windows: int = Field(120, ge=1)
    """A stream group unseen for this many windows is forgotten (its baseline is the pooled one anyway)."""
    max_sessions: int = Field(20_000, ge=1)
    """Live sessions whose cumulative counters are remembered; the least recently seen go first."""
    max_units_per_window: int = Field(10_000, ge=1)
    """Units kept per window for attribution; past it a unit still counts in its groups' windows."""
    lock_chunk_events: int = Field(50, ge=1)
    """A shared detector (the service's) scores a request this many events per hold of its lock, so a
    player's beacon waits behind at most one chunk of someone's 5,000-event batch, not all of it."""


class SequenceSettings(BaseModel):
    length: int = Field(6, ge=2)
    hidden: int = Field(32, ge=4)
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(512, ge=8)
    lr: float = Field(0.003, gt=0)
    seed: int = 0


class IForestSettings(BaseModel):
    trees: int = Field(100, ge=10)
    max_samples: int = Field(512, ge=16)
    seed: int = 0


class TrainingSettings(BaseModel):
    seeds: list[int] = Field(default_factory=lambda: [101, 102, 103, 104], min_length=1)
    days: float = Field(1.0, gt=0)
    calibration_seeds: int = Field(2, ge=0)
    target_false_alerts_per_day: float = Field(0.5, ge=0)
    alias: str = "champion"
    """Where a newly registered detector goes if its validation F1 beats the version there (the registry's gate)."""
    detector: str = "sequence"
    sequence: SequenceSettings = SequenceSettings()
    iforest: IForestSettings = IForestSettings()


class QoeSettings(BaseModel):
    score: ScoreSettings = ScoreSettings()
    population: PopulationSettings
    abr: AbrSettings
    incidents: IncidentMixSettings = IncidentMixSettings()
    detection: DetectionSettings = DetectionSettings()
    training: TrainingSettings = TrainingSettings()
    streaming: StreamLimits = StreamLimits()
    eb: EbSettings = EbSettings()
    """The empirical-Bayes detector over telemetry schema v2 (issue 19; models/qoe/eb.py)."""


def load_settings(overrides: list[str] | None = None) -> QoeSettings:
    return load_config("qoe", QoeSettings, overrides)
