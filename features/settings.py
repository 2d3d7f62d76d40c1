"""Typed settings of ``configs/features.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class OnlineStoreSettings(BaseModel):
    type: Literal["sqlite", "redis"] = "sqlite"
    redis_connection_string: str = "localhost:6379"


class FeatureSettings(BaseModel):
    project: str = "streamlab"
    snapshot_every_days: float = 7.0
    ttl_days: int = 365
    popularity_windows_days: list[int] = [7, 30]
    online_store: OnlineStoreSettings = OnlineStoreSettings()


def load_feature_settings(overrides: list[str] | None = None) -> FeatureSettings:
    from streamlab.core.config import load_config

    return load_config("features", FeatureSettings, overrides)
