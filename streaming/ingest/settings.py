"""Typed settings for ``configs/streaming.yaml`` (ingest limits, ladder, audio, publishing)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from streamlab.core.config import load_config
from streamlab.core import project
from streamlab.streaming.packaging.settings import PackagingSettings
from streamlab.streaming.transcode.ladder import LadderSettings


class IngestSettings(BaseModel):
    allowed_roots: list[Path] = Field(default_factory=lambda: [Path("data/raw")])
    min_width: int = Field(default=32, gt=0)
    min_height: int = Field(default=32, gt=0)
    max_width: int = Field(default=7680, gt=0)
    max_height: int = Field(default=4320, gt=0)
    min_duration_s: float = Field(default=0.5, ge=0)
    max_duration_s: float = Field(default=21600, gt=0)

    def resolved_roots(self) -> list[Path]:
        """Allowed roots as absolute, symlink-free paths (relative ones resolve against STREAMLAB_HOME)."""
        return [project.resolve(root).resolve() for root in self.allowed_roots]


Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]
"""x264 and x265 share these preset names (slower = better compression per bit, more CPU)."""


class TranscodeSettings(LadderSettings):
    segment_duration_s: float = Field(default=4.0, gt=0.5, le=30)
    mode: Literal["ray", "serial"] = "ray"
    x264_preset: Preset = "veryfast"
    x265_preset: Preset = "fast"
    threads_per_encode: int = Field(default=0, ge=0)
    maxrate_ratio: float = Field(default=1.5, ge=1.0)
    bufsize_ratio: float = Field(default=2.0, gt=0)
    max_fps: float = Field(default=60.0, gt=0)


class AudioSettings(BaseModel):
    bitrate_kbps: int = Field(default=128, gt=0)
    channels: int = Field(default=2, ge=1, le=8)
    sample_rate_hz: Literal[44100, 48000] = 48000


class PublishSettings(BaseModel):
    replace: bool = False
    stale_staging_h: float = Field(default=24, gt=0)
    keep_versions: int = Field(default=2, ge=1, le=10)


class StreamingSettings(BaseModel):
    ingest: IngestSettings = IngestSettings()
    transcode: TranscodeSettings
    audio: AudioSettings = AudioSettings()
    publish: PublishSettings = PublishSettings()
    packaging: PackagingSettings = PackagingSettings()
    """Read by packaging (``load_packaging_settings``); declared here too so that loading streaming.yaml
    checks every key of it."""

    @model_validator(mode="after")
    def _limits_ordered(self) -> StreamingSettings:
        i = self.ingest
        if i.min_width > i.max_width or i.min_height > i.max_height:
            raise ValueError("ingest: min_width/min_height must not exceed max_width/max_height")
        return self


def load_streaming_settings(overrides: list[str] | None = None) -> StreamingSettings:
    return load_config("streaming", StreamingSettings, overrides)
