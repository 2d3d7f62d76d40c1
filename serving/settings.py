"""Serving settings (``configs/serving.yaml``): where the services listen and which models they load."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from streamlab.core.config import load_config
from streamlab.core.registry import ModelFamily
from streamlab.models.abr.decide import MAX_LADDER_RUNGS
from streamlab.streaming.delivery.settings import ConnectionLimits
from streamlab.streaming.transcode.per_title.service_client import SERVING_OVERRIDES_ENV, LadderClientSettings


class ModelSettings(BaseModel):
    enabled: bool = True
    name: str | None = Field(None, description="registered model name; null: the family's own (its FAMILY.name)")
    alias: str = Field("champion", description="registry alias the service follows")
    feature_store: bool = False

    def registered_name(self, family: ModelFamily) -> str:
        return self.name or family.name


class ModelsSettings(BaseModel):
    abr: ModelSettings = ModelSettings()
    recommend: ModelSettings = ModelSettings(feature_store=True)
    ladder: ModelSettings = ModelSettings()
    qoe: ModelSettings = ModelSettings()


class AbrServingSettings(BaseModel):
    max_ladder_rungs: int = Field(16, ge=1, le=MAX_LADDER_RUNGS)
    inline_max_rungs: int = Field(
        8, ge=0, le=64, description="ladders up to this many rungs are decided on the event loop; longer: a thread"
    )
    max_samples: int = Field(64, ge=1)
    horizon_chunks: int = Field(5, ge=1, le=16)
    max_pinned_versions: int = Field(
        4, ge=1, le=16, description="experiment arms' pinned model versions kept loaded at once (each is a whole model)"
    )


class RecommendServingSettings(BaseModel):
    max_k: int = Field(100, ge=1)


class LadderServingSettings(BaseModel):
    allowed_roots: list[Path] = Field(
        default_factory=list, description="roots a requested path must resolve under; empty: raw data dir + media root"
    )
    max_concurrent_probes: int = Field(1, ge=1, le=16, description="path requests probing at once (CPU-bound)")
    queue_timeout_s: float = Field(60.0, gt=0, description="a path request waits this long for a probe slot, then 503")


class QoeServingSettings(BaseModel):
    max_events: int = Field(5000, ge=1, description="events per /qoe/ingest request")
    max_alerts_kept: int = Field(1000, ge=1, description="alerts /qoe/alerts returns (newest)")


class HttpLimitsSettings(BaseModel):
    """What one connection and one request may cost the server before any handler runs (issue 20).

    ``connection`` (the delivery tiers' limits, same shape) is enforced by the server's HTTP protocol;
    body bytes and JSON nesting by a middleware in front of every route; both in
    :mod:`streamlab.serving.http_limits`.
    """

    connection: ConnectionLimits = ConnectionLimits(
        max_header_bytes=16 * 1024, header_timeout_s=10.0, body_timeout_s=10.0, idle_timeout_s=5.0
    )
    max_body_bytes: int = Field(
        4 << 20, ge=1024, description="request body on a route not in route_body_bytes (5,000 QoE events: ~1.7 MB)"
    )
    route_body_bytes: dict[str, int] = Field(
        default_factory=lambda: {"/abr/decide": 128 << 10, "/recommend": 16 << 10, "/ladder": 16 << 10},
        description="tighter body limits per route path: each route's largest valid request, with room",
    )
    max_json_depth: int = Field(32, ge=2, le=256, description="nesting of a JSON body ([ and {); deeper gets 400")


class CorsSettings(BaseModel):
    origin_regex: str | None = Field(
        r"^https?://(127\.0\.0\.1|localhost)(:\d+)?$",
        description="browser origins allowed to call the API (the edge's player page); null: no CORS",
    )
    max_age_s: int = Field(600, ge=0)


class ServingSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    watch_interval_s: float = Field(5.0, gt=0)
    startup_timeout_s: float = Field(120.0, gt=0)
    request_timeout_s: float = Field(
        300.0, gt=0, description="BentoML answers 504 past this (a ladder probe is the longest)"
    )
    tracing: bool = Field(False, description="OpenTelemetry spans per request (no exporter is configured here)")
    models: ModelsSettings = ModelsSettings()
    abr: AbrServingSettings = AbrServingSettings()
    recommend: RecommendServingSettings = RecommendServingSettings()
    ladder: LadderServingSettings = LadderServingSettings()
    ladder_client: LadderClientSettings = LadderClientSettings()
    qoe: QoeServingSettings = QoeServingSettings()
    cors: CorsSettings = CorsSettings()
    limits: HttpLimitsSettings = HttpLimitsSettings()

    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


OVERRIDES_ENV = SERVING_OVERRIDES_ENV
"""The server process's config overrides (a JSON list); defined once, by the client that reads them too."""
"""CLI overrides for this file, as a JSON list, handed to the server process and read by its clients."""


def load_serving_settings(overrides: list[str] | None = None) -> ServingSettings:
    return load_config("serving", ServingSettings, overrides)
