"""Typed settings for the ``packaging:`` section of ``configs/streaming.yaml``.

Read on their own (not through ``StreamingSettings``) so packaging can be configured and tested
without the ingest settings; ``StreamingSettings`` ignores the section, and ``packaging.*``
overrides on the ingest CLI validate against the same YAML keys.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from streamlab.core.config import load_config

Scheme = Literal["cenc", "cbcs"]
System = Literal["common", "widevine", "playready", "fairplay"]
SYSTEMS: tuple[System, ...] = ("common", "widevine", "playready", "fairplay")


class ThumbnailSettings(BaseModel):
    """Seek thumbnails (``streaming.transcode.thumbnails``): sprite sheets, a WebVTT track, a DASH image set.

    On by default: one decode of the lowest rendition buys the preview Shaka's UI seek bar shows, for
    about 0.5 s more ingest CPU on a 20 s 720p ladder (25.3 -> 25.7 s, thumbnails and the trick-mode set
    together; ``thumbnails_and_trick_cpu_s`` in benchmarks/bench_packaging.py)."""

    enabled: bool = True
    interval_s: float = Field(default=2.0, gt=0)
    width: int = Field(default=160, ge=16, le=640)
    columns: int = Field(default=5, ge=1, le=20)
    rows: int = Field(default=5, ge=1, le=20)


class PackagingSettings(BaseModel):
    iframe_playlists: bool = True
    """HLS ``EXT-X-I-FRAME-STREAM-INF`` trick-play playlists (byte ranges into the same segments)."""
    segment_bitrates: bool = True
    """Per-segment ``EXT-X-BITRATE`` from the real segment sizes, so players price chunks exactly."""
    trick_play_factor: int = Field(default=1, ge=0)
    """> 0: a trick-play track of every n-th keyframe of the lowest H.264 rendition (``trick/``): the DASH
    trick-mode AdaptationSet, kept out of the HLS variants (HLS trick play is the I-frame playlists). 0: none.
    1 by default: with 4 s GOPs every keyframe is already a sparse enough trick track."""
    thumbnails: ThumbnailSettings = ThumbnailSettings()
    timeout_s: float = 600.0


class _StreamingYaml(BaseModel):
    model_config = ConfigDict(extra="ignore")  # reads only its section of streaming.yaml

    packaging: PackagingSettings = PackagingSettings()


def load_packaging_settings(overrides: list[str] | None = None) -> PackagingSettings:
    """``overrides`` are streaming.yaml overrides (``packaging.iframe_playlists=false``); others are validated and ignored."""
    return load_config("streaming", _StreamingYaml, overrides).packaging


class EncryptionSettings(BaseModel):
    """The ``encryption:`` section of ``configs/drm.yaml``: how CENC titles are encrypted and signalled."""

    scheme: Scheme = "cenc"
    """``cenc``: AES-CTR, every byte of each sample's payload; ``cbcs``: AES-CBC, 1 of 10 blocks
    (ISO/IEC 23001-7 patterns), what Apple devices and FairPlay need. Per title via ``drm.encryption.scheme``."""
    protection_systems: list[System] = Field(default_factory=lambda: list(SYSTEMS))
    """Systems signalled (PSSH, DASH ContentProtection, HLS EXT-X-KEY) so a commercial licence service can
    be plugged in; ClearKey is always signalled as well. FairPlay is only signalled on cbcs titles."""
    fairplay_key_uri: str = "skd://{kid}"
    """The FairPlay ``EXT-X-KEY`` URI; ``{kid}`` becomes the hex key ID."""


class _DrmYaml(BaseModel):
    model_config = ConfigDict(extra="ignore")  # reads only its section of drm.yaml

    encryption: EncryptionSettings = EncryptionSettings()


def load_encryption_settings(overrides: list[str] | None = None) -> EncryptionSettings:
    """``overrides`` are drm.yaml overrides (``encryption.scheme=cbcs``); others are validated and ignored."""
    return load_config("drm", _DrmYaml, overrides).encryption
