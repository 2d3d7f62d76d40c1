"""Experiment settings (``configs/experiment.yaml``): arm targets, the statistics' levels, the simulation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from streamlab.core.config import load_config

METRICS: dict[str, bool] = {"qoe": True, "rebuffer_ratio": False, "startup_s": False, "bitrate_kbps": True}
"""Per-session metrics a report covers, and whether higher is better (the verdict's direction)."""


class Target(BaseModel):
    """What an arm serves: a registered model (``model`` + alias or version ``ref``) or a heuristic ``policy``."""

    policy: str | None = None
    model: str | None = None
    ref: str = "champion"

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        if (self.policy is None) == (self.model is None):
            raise ValueError("a target is either {policy: NAME} or {model: NAME, ref: ALIAS_OR_VERSION}, not both or neither")
        return self


class SimulationSettings(BaseModel):
    viewers: int = Field(2000, ge=2, le=200_000)
    pre_sessions: int = Field(4, ge=0, le=50)
    seed: int = 0


class HeadlessRunSettings(BaseModel):
    """``streamlab experiment run-headless``: real headless players through the real stack (``pipelines.experiment.harness``)."""

    viewers: int = Field(240, ge=2, le=20_000)
    pre_sessions: int = Field(1, ge=0, le=10, description="pre-period sessions per viewer (BOLA, before the start)")
    pre_offsets: Literal["same", "rotated"] = Field(
        "same", description="pre-period sessions replay the viewer's link from where the experiment session starts, or elsewhere")
    seed: int = 0
    log_exposures: bool = Field(True, description="false: the report credits sessions by the arms their beacons carry")
    player: list[str] = Field(
        default_factory=lambda: ["time_scale=30", "concurrency=12", "decide_timeout_ms=1000"],
        description="configs/headless.yaml overrides for these players. The model server sees time_scale x the real "
        "request rate of each session: at 48 sessions x 30 on 2 cores its decisions queued past the budget (fallbacks, "
        "stalls) and the learned arm lost; 12 keeps every decision served")


class ExperimentSettings(BaseModel):
    targets: dict[str, Target]
    confidence: float = Field(0.99, gt=0.5, lt=1.0)
    srm_alpha: float = Field(0.001, gt=0.0, lt=0.5)
    min_sessions_per_arm: int = Field(100, ge=2)
    max_sessions_per_arm: int = Field(20_000, ge=2)
    pre_period_s: float = Field(1_209_600.0, gt=0)
    tracking_experiment: str = "online-experiments"
    simulation: SimulationSettings = SimulationSettings(viewers=2000, pre_sessions=4, seed=0)
    headless: HeadlessRunSettings = HeadlessRunSettings()


def load_experiment_settings(overrides: list[str] | None = None) -> ExperimentSettings:
    return load_config("experiment", ExperimentSettings, overrides)
