"""Typed settings for the viewer pages (``configs/catalog.yaml``).

The origin builds its routes once, when the app is created, so overrides for one running stack
(tests, a deployment) travel in ``STREAMLAB_CATALOG_OVERRIDES``: a JSON list of ``key=value``
strings, the same pattern ``serving`` uses for its server process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field

from streamlab.core.config import load_config
from streamlab.core.config import ConfigError

OVERRIDES_ENV = "STREAMLAB_CATALOG_OVERRIDES"
TOKEN_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
"""Telemetry identifiers (``models/qoe/telemetry.py`` ``Token``): group keys and file names."""


class AbrPageSettings(BaseModel):
    decide_budget_ms: float = Field(50.0, gt=0, le=5000)
    refresh_s: float = Field(1.0, gt=0, le=60)
    max_samples: int = Field(8, ge=1, le=64)
    max_buffer_s: float = Field(30.0, ge=2, le=600, description="hls.js maxBufferLength")


class TelemetrySettings(BaseModel):
    beacons: bool = True
    heartbeat_interval_s: float = Field(5.0, gt=0, le=300)
    device: str = Field("web", min_length=1, max_length=64, pattern=TOKEN_PATTERN)
    region: str = Field("local", min_length=1, max_length=64, pattern=TOKEN_PATTERN)
    edge: str = Field("edge-1", min_length=1, max_length=64, pattern=TOKEN_PATTERN)
    metrics_flush_s: float = Field(5.0, gt=0, le=300)


class RecommendPageSettings(BaseModel):
    k: int = Field(12, ge=1, le=100)
    timeout_ms: float = Field(150.0, gt=0, le=10_000)
    device: str = Field("web", pattern=r"^(tv|mobile|web)$")
    interactions: Path = Path("ml-100k/ml-100k.inter")
    items: Path = Path("ml-100k/ml-100k.item")
    title_map: dict[str, str] = Field(default_factory=dict)
    stand_in_clips: bool = True


class ViewerSettings(BaseModel):
    secret_file: Path = Path(".state/secrets/viewer-session.key")
    token_ttl_s: int = Field(30 * 24 * 3600, gt=0)
    anonymous_id: str = Field("anonymous", min_length=1, max_length=64, pattern=TOKEN_PATTERN)


class CatalogPageSettings(BaseModel):
    serving_url: str = Field("http://127.0.0.1:3000", description='the BentoML service; "" disables model calls')
    abr: AbrPageSettings = AbrPageSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    recommend: RecommendPageSettings = RecommendPageSettings()
    viewer: ViewerSettings = ViewerSettings()

    @property
    def serving_base(self) -> str:
        return self.serving_url.rstrip("/")


def load_catalog_settings(overrides: list[str] | None = None) -> CatalogPageSettings:
    """``configs/catalog.yaml`` + ``STREAMLAB_CATALOG_OVERRIDES`` + ``overrides`` (last wins)."""
    raw = os.environ.get(OVERRIDES_ENV, "").strip()
    from_env: list[str] = []
    if raw:
        try:
            from_env = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{OVERRIDES_ENV} is not JSON ({exc}); expected a list like '[\"serving_url=...\"]'"
            ) from exc
        if not isinstance(from_env, list) or not all(isinstance(item, str) for item in from_env):
            raise ConfigError(f"{OVERRIDES_ENV} must be a JSON list of key=value strings, got {raw!r}")
    return load_config("catalog", CatalogPageSettings, [*from_env, *(overrides or [])])
