"""``configs/peak.yaml`` as typed settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from streamlab.core.config import load_config


class ChannelSettings(BaseModel):
    name: str = "peak"
    synthetic: bool = True
    live_overrides: list[str] = Field(default_factory=list)


class CrowdSettings(BaseModel):
    viewers: int = Field(200, ge=1, le=20000)
    duration_s: float = Field(60.0, gt=0, le=3600)
    ramp_s: float = Field(60.0, ge=0)
    workers: int = Field(2, ge=1, le=64)
    seed: int = 0
    request_timeout_s: float = Field(15.0, gt=0)
    max_live_sync_rate: float = Field(1.1, ge=1.0, le=2.0)
    live_sync_on_stall_increase_s: float = Field(0.0, ge=0.0)
    link_mbps: float = Field(0.0, ge=0.0)
    """0: each viewer replays a throughput trace; more: every viewer has a constant link this fast."""
    traces: Path = Path("data/raw/abr/train_traces")


class SimulateSettings(BaseModel):
    viewers: list[int] = Field(default_factory=lambda: [10_000, 100_000, 1_000_000, 10_000_000])
    edge_capacity_rps: float = Field(20_000.0, gt=0)
    edge_cores: int = Field(1, ge=1)
    shields: int = Field(4, ge=1)
    parts: int = Field(6, ge=1, le=100)
    max_simulated_viewers_per_edge: int = Field(20_000, ge=10)
    requests_per_viewer_per_part: float = Field(2.0, gt=0)
    seed: int = 0


class FaultSettings(BaseModel):
    plan: list[str] = Field(default_factory=list)
    """``tier:seconds`` in order, e.g. ``[shield:5, origin:5]``: each tier restarts, down that long."""
    first_at_s: float = Field(10.0, ge=0)
    gap_s: float = Field(10.0, ge=0)
    baseline_s: float = Field(5.0, gt=0)
    recovery_tolerance_s: float = Field(0.5, gt=0)
    recovery_limit_s: float = Field(10.0, gt=0)


class PeakSettings(BaseModel):
    edge: Literal["python", "varnish"] = "python"
    edges: int = Field(1, ge=1, le=16)
    shields: int = Field(1, ge=1, le=16)
    results_dir: Path = Path(".state/peak")
    mlflow_experiment: str = "peak"
    channel: ChannelSettings = ChannelSettings()
    crowd: CrowdSettings = CrowdSettings()
    simulate: SimulateSettings = SimulateSettings()
    faults: FaultSettings = FaultSettings()


def load_peak_settings(overrides: list[str] | None = None) -> PeakSettings:
    return load_config("peak", PeakSettings, overrides)
