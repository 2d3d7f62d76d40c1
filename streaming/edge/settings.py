"""Edge-intelligence settings (``configs/edge.yaml``): hook rules, manifest caps, playback, steering, warming."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator, model_validator

from streamlab.core.config import load_config

DEVICE_CLASSES = ("tv", "mobile", "tablet", "desktop", "console", "unknown")
"""Every class the hook can answer; ``unknown`` is a class of its own (capped by config), never an error."""

CODEC_FAMILIES = ("h264", "hevc", "av1")


class UaRule(BaseModel):
    device_class: str
    pattern: str

    @field_validator("device_class")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in DEVICE_CLASSES:
            raise ValueError(f"device class {value!r} is not one of {', '.join(DEVICE_CLASSES)}")
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern {value!r} is not a regular expression: {exc}") from None
        return value


class HintPlatform(BaseModel):
    mobile: str = "mobile"
    not_mobile: str = "desktop"


class DeviceSettings(BaseModel):
    ua_rules: list[UaRule]
    hint_platforms: dict[str, HintPlatform] = Field(default_factory=dict)
    tv_models: str = "TV"


class RegionSettings(BaseModel):
    headers: list[str] = Field(default_factory=lambda: ["CloudFront-Viewer-Country", "X-Country"], min_length=1)
    default: str = "other"
    countries: dict[str, list[str]] = Field(default_factory=dict)

    def country_map(self) -> dict[str, str]:
        """ISO country code -> region; a country listed in two regions is a config error."""
        mapping: dict[str, str] = {}
        for region, codes in self.countries.items():
            for code in codes:
                if code.upper() in mapping:
                    raise ValueError(f"country {code} is in regions {mapping[code.upper()]!r} and {region!r}")
                mapping[code.upper()] = region
        return mapping

    @model_validator(mode="after")
    def _unique(self) -> RegionSettings:
        self.country_map()
        return self


class ViewerIdSettings(BaseModel):
    header: str = "X-Streamlab-Viewer"
    cookie: str = "streamlab_viewer"


class HookSettings(BaseModel):
    viewer: ViewerIdSettings = ViewerIdSettings()
    experiments_reload_s: float = Field(10.0, gt=0)
    device: DeviceSettings
    region: RegionSettings = RegionSettings()


class DeviceCap(BaseModel):
    max_height: int = Field(gt=0)
    codecs: list[str] = Field(min_length=1)

    @field_validator("codecs")
    @classmethod
    def _families(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CODEC_FAMILIES]
        if unknown:
            raise ValueError(f"codecs {unknown} are not among {', '.join(CODEC_FAMILIES)}")
        return value


class ManifestSettings(BaseModel):
    enabled: bool = True
    caps: dict[str, DeviceCap]

    @model_validator(mode="after")
    def _every_class(self) -> ManifestSettings:
        missing = [c for c in DEVICE_CLASSES if c not in self.caps]
        if missing:
            raise ValueError(f"manifests.caps needs every device class; missing: {', '.join(missing)}")
        return self


class PlaybackSettings(BaseModel):
    unknown_device: str = "unknown"
    experiment: str | None = None
    abr_decide_url: str = "http://127.0.0.1:8080/abr/decide"
    manifest_base_url: str | None = None


class Pathway(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")
    url: str


class SteeringSettings(BaseModel):
    server_url: str | None = None
    ttl_s: int = Field(10, ge=1, le=3600)
    pathways: list[Pathway] = Field(default_factory=list)
    region_preference: dict[str, list[str]] = Field(default_factory=dict)
    window_s: float = Field(15.0, gt=0)
    min_samples: int = Field(3, ge=1)
    max_error_ratio: float = Field(0.2, ge=0, le=1)
    max_rebuffer_ratio: float = Field(0.05, ge=0)
    min_throughput_kbps: float = Field(0.0, ge=0)
    demote_after_s: float = Field(2.0, ge=0)
    promote_after_s: float = Field(20.0, ge=0)
    probe_interval_s: float = Field(2.0, gt=0)
    probe_path: str = "/healthz"
    probe_timeout_s: float = Field(2.0, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(8030, ge=0, le=65535)

    @model_validator(mode="after")
    def _known_pathways(self) -> SteeringSettings:
        ids = [p.id for p in self.pathways]
        if len(set(ids)) != len(ids):
            raise ValueError(f"steering.pathways repeats an id: {ids}")
        for region, order in self.region_preference.items():
            unknown = [p for p in order if p not in ids]
            if unknown:
                raise ValueError(f"steering.region_preference.{region} names unknown pathways {unknown}; known: {ids}")
        return self

    @property
    def active(self) -> bool:
        """Manifests carry steering only with a server to ask and at least two pathways to choose from."""
        return bool(self.server_url) and len(self.pathways) >= 2

    def preference(self, region: str) -> list[str]:
        order = list(self.region_preference.get(region, []))
        return order + [p.id for p in self.pathways if p.id not in order]


class WarmingSettings(BaseModel):
    budget_bytes: int = Field(64 * 1024 * 1024, gt=0)
    first_segments: int = Field(6, ge=1)
    first_window_s: float = Field(60.0, gt=0)
    rank_decay: float = Field(0.7, gt=0, le=1)


class EdgeSettings(BaseModel):
    hook: HookSettings
    manifests: ManifestSettings
    playback: PlaybackSettings = PlaybackSettings()
    steering: SteeringSettings = SteeringSettings()
    warming: WarmingSettings = WarmingSettings()

    @model_validator(mode="after")
    def _playback_class(self) -> EdgeSettings:
        if self.playback.unknown_device not in DEVICE_CLASSES:
            raise ValueError(f"playback.unknown_device {self.playback.unknown_device!r} is not one of {DEVICE_CLASSES}")
        return self


def load_edge_settings(overrides: list[str] | None = None) -> EdgeSettings:
    return load_config("edge", EdgeSettings, overrides)
