"""Serving settings (``configs/serving.yaml``): where the services listen and which models they load."""

from __future__ import annotations

from pydantic import BaseModel, Field

from configs import load_config


class ModelSettings(BaseModel):
    enabled: bool = True
    name: str = Field(description="MLflow registered model name, e.g. abr-policy")
    alias: str = Field("champion", description="registry alias the service follows")
    feature_store: bool = False


class ModelsSettings(BaseModel):
    abr: ModelSettings = ModelSettings(name="abr-policy")
    recommend: ModelSettings = ModelSettings(name="recsys", feature_store=True)


class AbrServingSettings(BaseModel):
    max_ladder_rungs: int = Field(16, ge=1, le=64)
    max_samples: int = Field(64, ge=1)
    horizon_chunks: int = Field(5, ge=1, le=16)


class RecommendServingSettings(BaseModel):
    max_k: int = Field(100, ge=1)


class ServingSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    watch_interval_s: float = Field(5.0, gt=0)
    startup_timeout_s: float = Field(120.0, gt=0)
    models: ModelsSettings = ModelsSettings()
    abr: AbrServingSettings = AbrServingSettings()
    recommend: RecommendServingSettings = RecommendServingSettings()


def load_serving_settings(overrides: list[str] | None = None) -> ServingSettings:
    return load_config("serving", ServingSettings, overrides)
