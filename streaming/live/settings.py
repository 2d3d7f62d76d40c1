"""Typed settings for live channels, loaded from ``configs/live.yaml`` (+ ``key=value`` overrides)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from streamlab.core.config import ConfigError, load_config


class IngestSettings(BaseModel):
    protocol: Literal["srt", "rtmp"] = Field("srt", description="srt: UDP listeners; rtmp: TCP listeners (FLV), same ports")
    primary_port: int = Field(9710, ge=1, le=65535)
    backup_port: int = Field(9711, ge=0, le=65535, description="0: no backup listener")
    srt_latency_ms: int = Field(120, ge=20)
    failover_after_s: float = Field(0.6, gt=0, description="silence on the active feed before switching")
    slate_after_s: float = Field(1.5, gt=0, description="silence on every feed before the slate (input_lost)")
    steady_s: float = Field(0.5, ge=0, description="a feed must have flowed this long without a gap to be switched to")
    primary_grace_s: float = Field(2.0, ge=0, description="at start, how long to wait for the primary when the backup is ready first")


class ContributionSettings(BaseModel):
    """The encoder ``live start`` runs for a source: what a venue's contribution encoder would send."""

    source: str = "data/raw/videos/bigbuckbunny.mp4"
    width: int = Field(1280, gt=0)
    height: int = Field(720, gt=0)
    fps: int = Field(30, gt=0)
    bitrate_kbps: int = Field(4000, gt=0)
    gop_s: float = Field(1.0, gt=0)
    preset: str = "veryfast"
    backup: bool = True
    audio_bitrate_kbps: int = Field(128, gt=0, description="AAC: the source's own audio, or a tone if it has none")
    tone_hz: int = Field(440, gt=0, description="the tone sent when the source has no audio (a lavfi spec, the slate)")
    audio_offset_s: float = Field(
        0.0, description="fault injection: audio timestamps shifted by this (negative: stamped early), an A/V sync fault"
    )
    drop_every: int = Field(0, ge=0, description="fault injection: drop every Nth frame after the fps filter (0: none)")


class LiveRung(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    bitrate_kbps: int = Field(gt=0)


class TranscodeSettings(BaseModel):
    fps: int = Field(30, gt=0)
    preset: str = "ultrafast"
    tune: str = "zerolatency"
    threads: int = Field(0, ge=0)
    audio: bool = Field(True, description="publish an AAC audio rendition (every contribution feed and the slate carry audio)")
    audio_bitrate_kbps: int = Field(96, gt=0)
    ladder: list[LiveRung] = Field(min_length=1, description="the fixed ladder (and the model's rung budget: as many rungs)")
    ladder_from: Literal["model", "fixed"] = Field(
        "model", description="model: the ladder model picks the rungs from the first seconds of the feed; fixed: `ladder`"
    )
    ladder_probe_s: float = Field(3.0, ge=2.0, le=30.0, description="seconds of the first feed the model's features are measured on")
    ladder_timeout_s: float = Field(60.0, gt=0, description="the decision's budget; past it, the fixed ladder")
    ladder_model_dir: str = Field("", description="a ladder model artifact folder; empty: the registered @alias, else the committed default")


class PackagingSettings(BaseModel):
    segment_s: float = Field(2.0, gt=0)
    part_s: float = Field(0.3333, gt=0)
    part_hold_back_parts: float = Field(3.0, ge=2.0, description="the spec requires at least 2 part targets")
    skip_after_segments: int = Field(6, ge=6, description="the spec requires CAN-SKIP-UNTIL >= 6 target durations")
    parts_kept_segments: int = Field(2, ge=1)
    dvr_window_s: float = Field(7200.0, gt=0)


class LiveOriginSettings(BaseModel):
    port: int = Field(8710, ge=0, le=65535)
    block_timeout_targets: float = Field(3.0, gt=0)
    playlist_cache_control: str = "public, max-age=1"
    blocked_cache_control: str = "public, max-age=6"
    media_cache_control: str = "public, max-age=31536000, immutable"
    dash_target_latency_s: float = Field(2.0, gt=0, description="LL-DASH ServiceDescription latency target")
    dash_min_update_s: float = Field(1.0, gt=0, description="LL-DASH MPD minimumUpdatePeriod")
    error_cache_control: str = Field(
        "no-cache", description="never stored by a tier, yet shared with requests coalesced onto the failed one"
    )


class HealthSettings(BaseModel):
    """The stream health monitor (:mod:`streamlab.streaming.live.health`): one evaluation per interval."""

    interval_s: float = Field(1.0, gt=0, description="one window of the alert tracker")
    bitrate_window_s: float = Field(10.0, gt=0, description="bitrate variance and keyframe gaps are judged over this")
    max_bitrate_cv: float = Field(0.5, gt=0, description="std/mean of the per-interval input bitrate")
    max_keyframe_interval_s: float = Field(3.0, gt=0, description="longest gap between input keyframes")
    max_av_drift_s: float = Field(0.5, gt=0, description="audio vs video lag behind the capture clock, at the packager")
    max_dropped_ratio: float = Field(0.05, gt=0, description="share of the input's frame slots with no frame, over the window")
    confirm_windows: int = Field(2, ge=1, description="a measured check must fail this many windows in a row")
    close_after_windows: int = Field(5, ge=1, description="an alert closes after this many quiet windows")
    alerts_kept: int = Field(50, ge=1, description="raised alerts kept for status and /metrics")


class LiveDrmSettings(BaseModel):
    mode: Literal["none", "clearkey"] = Field(
        "none", description="clearkey: CENC parts, keys from the VOD key store, the VOD licence flow (`live start --drm clearkey`)"
    )


class LiveSettings(BaseModel):
    host: str = "127.0.0.1"
    ingest: IngestSettings = IngestSettings()
    contribution: ContributionSettings = ContributionSettings()
    transcode: TranscodeSettings
    packaging: PackagingSettings = PackagingSettings()
    origin: LiveOriginSettings = LiveOriginSettings()
    health: HealthSettings = HealthSettings()
    drm: LiveDrmSettings = LiveDrmSettings()
    stop_timeout_s: float = Field(5.0, gt=0)
    start_timeout_s: float = Field(90.0, gt=0)
    edge_url: str = Field(
        "", description="where viewers reach the delivery edge; empty: http://<host>:<edge_port> of configs/delivery.yaml; "
                        "'none': no edge (live status shows only the live origin)",
    )

    @model_validator(mode="after")
    def _whole_frames(self) -> LiveSettings:
        """Parts and segments must be whole numbers of frames, and a segment whole parts.

        Then every rung cuts at the same frame numbers (aligned parts and segments across the
        ladder, as LL-HLS rendition switching needs) and PART-TARGET is exact.
        """
        fps = self.transcode.fps
        part_frames = self.part_frames
        if abs(part_frames - self.packaging.part_s * fps) > 0.05:
            raise ValueError(f"packaging.part_s={self.packaging.part_s} is not a whole number of frames at {fps} fps")
        segment_frames = self.packaging.segment_s * fps
        if abs(segment_frames - round(segment_frames)) > 1e-6 or round(segment_frames) % part_frames:
            raise ValueError(
                f"packaging.segment_s={self.packaging.segment_s} is not a whole number of {part_frames}-frame parts at {fps} fps"
            )
        if any(rung.name == "audio" for rung in self.transcode.ladder):
            raise ValueError("transcode.ladder: 'audio' names the audio rendition; call the rung something else")
        if self.ingest.backup_port == self.ingest.primary_port:
            raise ValueError("ingest.backup_port must differ from ingest.primary_port")
        return self

    @property
    def part_frames(self) -> int:
        return max(1, round(self.packaging.part_s * self.transcode.fps))

    @property
    def segment_frames(self) -> int:
        return round(self.packaging.segment_s * self.transcode.fps)

    @property
    def part_target_s(self) -> float:
        """PART-TARGET: the exact part length, rounded *up* to the millisecond (parts must not exceed it)."""
        return math.ceil(self.part_frames / self.transcode.fps * 1000) / 1000

    @property
    def target_duration_s(self) -> int:
        return max(1, round(self.packaging.segment_s))


def edge_base_url(settings: LiveSettings) -> str | None:
    """The delivery edge viewers should use, from ``edge_url`` or else ``configs/delivery.yaml``.

    The channel does not start the edge (``streamlab stream serve`` does, once for every title
    and channel); it only needs to know its address to announce playback URLs through it, and
    the delivery config is where that address is already configured.
    """
    if settings.edge_url.strip().lower() == "none":
        return None
    if settings.edge_url:
        return settings.edge_url.rstrip("/")
    from streamlab.streaming.delivery.settings import load_delivery_settings

    delivery = load_delivery_settings()
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(delivery.host, delivery.host)
    return f"http://[{host}]:{delivery.edge_port}" if ":" in host else f"http://{host}:{delivery.edge_port}"


def load_live_settings(overrides: list[str] | None = None) -> LiveSettings:
    return load_config("live", LiveSettings, overrides)


CHANNEL_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,58}")
"""Channel names are URL path segments and folder names: the catalog's title-id alphabet (full match)."""


def validate_channel_name(name: str) -> str:
    """``name`` if it is a channel name (:data:`CHANNEL_PATTERN`), else a usage error saying what is valid."""
    if not CHANNEL_PATTERN.fullmatch(name):
        raise ConfigError(f"channel name {name!r} is not valid: use 1-59 of a-z, 0-9, '_' and '-', starting with a letter or digit")
    return name


def channel_media_dir(media_root: Path, channel: str) -> Path:
    """Where a channel's playlists, parts and segments live: ``<media root>/live-<channel>/``.

    Under the media root so the VOD origin (and the cache tiers in front of it) can serve the
    same files as ordinary media, and prefixed so a channel never collides with a VOD title id.
    """
    return media_root / f"live-{channel}"
