"""Headless-player settings (``configs/headless.yaml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from streamlab.core.config import load_config


class HeadlessSettings(BaseModel):
    time_scale: float = Field(1.0, gt=0, le=1000)
    episodes: int = Field(1, ge=1, le=100, description="a session plays the title this many times back to back")
    link_rtt_s: float = Field(0.08, ge=0, le=5)
    buffer_cap_s: float = Field(60.0, gt=0)
    read_chunk_bytes: int = Field(16384, ge=512)
    decide_timeout_ms: float = Field(50.0, gt=0)
    max_samples: int = Field(8, ge=1, le=64)
    http_timeout_s: float = Field(10.0, gt=0, description="per read, and the most a byte may trail the shaped link")
    concurrency: int = Field(8, ge=1, le=512)
    sessions_per_policy: int = Field(8, ge=1)
    arrival_spread_s: float = Field(0.0, ge=0, le=3600)
    trace_seed: int = 0
    chunk_sizes: Literal["manifest", "nominal"] = Field(
        "manifest",
        description="manifest: each chunk's size as the playlists state it (exact where the packager wrote "
        "EXT-X-BITRATE); nominal: rung bitrate x duration, to measure what exact sizes change",
    )


def load_headless_settings(overrides: list[str] | None = None) -> HeadlessSettings:
    return load_config("headless", HeadlessSettings, overrides)
