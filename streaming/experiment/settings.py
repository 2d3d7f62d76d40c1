"""Experiment settings (``configs/experiment.yaml``): arm targets, the statistics' levels, the simulation."""

from __future__ import annotations

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


class ExperimentSettings(BaseModel):
    targets: dict[str, Target]
    confidence: float = Field(0.99, gt=0.5, lt=1.0)
    srm_alpha: float = Field(0.001, gt=0.0, lt=0.5)
    min_sessions_per_arm: int = Field(100, ge=2)
    max_sessions_per_arm: int = Field(20_000, ge=2)
    pre_period_s: float = Field(1_209_600.0, gt=0)
    tracking_experiment: str = "online-experiments"
    simulation: SimulationSettings = SimulationSettings(viewers=2000, pre_sessions=4, seed=0)


def load_experiment_settings(overrides: list[str] | None = None) -> ExperimentSettings:
    return load_config("experiment", ExperimentSettings, overrides)
