"""What a published title is: its on-disk layout and its ``title.json`` record.

The contract between ingest (which writes titles), the origin (which serves them and lists the
catalog) and the player page (which shows the catalog). Layout under the media root::

    <media_root>/<title_id>/
        title.json                      # this module's TitleRecord (``version`` names the folder below)
        master.m3u8, manifest.mpd       # aliases of the current version's manifests, URIs prefixed with it
        <version>/                      # one publish, e.g. v20261204T205800Z-3fa2b1; never rewritten
            master.m3u8                 # HLS multivariant playlist (record.hls points here)
            manifest.mpd                # DASH MPD (same CMAF segments as HLS)
            <rendition_id>/init.mp4         # CMAF init segment
            <rendition_id>/seg_00001.m4s …  # CMAF media segments, 1-based
            <rendition_id>/playlist.m3u8    # HLS media playlist
            audio/…                     # the AAC track, when the source has audio

Every publish writes a new ``<version>/`` folder, so a segment URL always names the same bytes:
tiers may cache segments as immutable, and a republished title can never hand a viewer a new
segment under an old playlist (finding 6 of issue 20: the edge served the new playlist with the old,
year-cached ``seg_00001.m4s``). Titles published before versioning have no ``version`` and keep the
flat layout (``<title_id>/<rendition_id>/…``); ``media_path`` hides the difference.

Titles are published atomically: built under ``<media_root>/.staging/`` and renamed into place,
so the catalog never lists a half-written title.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from streamlab.core.errors import StreamlabError

TITLE_RECORD = "title.json"
HLS_MASTER = "master.m3u8"
DASH_MANIFEST = "manifest.mpd"
STAGING_DIR = ".staging"
VERSION_PATTERN = re.compile(r"^v\d{8}T\d{6}Z-[0-9a-f]{6}\Z")
TITLE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")  # \Z, not $: "$" also matches before a final "\n"


class InvalidTitleId(StreamlabError):
    pass


def validate_title_id(title_id: str) -> str:
    """Title ids become path components and URLs: lowercase letters, digits, ``-`` and ``_``."""
    if not isinstance(title_id, str) or not TITLE_ID_PATTERN.fullmatch(title_id):
        raise InvalidTitleId(
            f"title id {title_id!r} is not valid: use 1-64 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return title_id


class SourceInfo(BaseModel):
    container: str
    video_codec: str
    width: int
    height: int
    fps: float
    duration_s: float
    has_audio: bool
    audio_codec: str | None = None
    bitrate_kbps: float | None = None


class Rendition(BaseModel):
    id: str = Field(description="folder name, e.g. 720p_3000k")
    width: int
    height: int
    codec: Literal["h264", "hevc", "av1"]
    codecs: str = Field(description="RFC 6381 codecs string of the video track, e.g. avc1.64001f")
    bitrate_kbps: int = Field(description="target bitrate")
    bandwidth_bps: int = Field(description="peak bits/s over segments (HLS BANDWIDTH)")
    average_bandwidth_bps: int = Field(description="mean bits/s (HLS AVERAGE-BANDWIDTH)")
    profile: str = Field(description="ladder profile this rung came from, e.g. main, mobile, uhd")
    browser_playable: bool = Field(description="False for HEVC: Chromium's MSE does not decode it")
    segment_count: int


class AudioTrack(BaseModel):
    id: str = "audio"
    codecs: str = "mp4a.40.2"
    bitrate_kbps: int
    sample_rate_hz: int
    channels: int


class Protection(BaseModel):
    """How a protected title is encrypted and where players get keys (no key material here)."""

    cenc_kids: dict[str, str] = Field(default_factory=dict, description="track type → CENC key id (hex)")
    license_url: str | None = Field(None, description="W3C ClearKey licence endpoint")
    hls_aes128: str | None = Field(None, description="HLS AES-128 multivariant playlist, relative to the title")
    key_uri_base: str | None = None


class TitleRecord(BaseModel):
    title_id: str
    name: str
    created_at: datetime
    source: SourceInfo
    segment_duration_s: float
    duration_s: float
    renditions: list[Rendition]
    audio: AudioTrack | None = None
    hls: str = HLS_MASTER
    dash: str | None = DASH_MANIFEST
    drm: Literal["none", "clearkey", "aes128", "all"] = "none"
    protection: Protection | None = None
    ladder: str = "fixed"
    version: str | None = Field(None, description="folder under the title holding this publish; None: flat layout")

    def media_path(self, relative: str) -> str:
        """``relative`` (e.g. ``360p_800k/playlist.m3u8``) as a path under ``/media/<title_id>/``."""
        return f"{self.version}/{relative}" if self.version else relative

    def with_version(self, version: str) -> TitleRecord:
        """This record published as ``version``: its manifest paths point into that folder."""
        if not VERSION_PATTERN.fullmatch(version):
            raise ValueError(f"version {version!r} is not vYYYYMMDDTHHMMSSZ-hhhhhh")
        prefixed = self.model_copy(update={"version": version})
        protection = self.protection
        if protection is not None and protection.hls_aes128:
            protection = protection.model_copy(update={"hls_aes128": prefixed.media_path(protection.hls_aes128)})
        return prefixed.model_copy(update={
            "hls": prefixed.media_path(self.hls),
            "dash": prefixed.media_path(self.dash) if self.dash else None,
            "protection": protection,
        })


def new_version(now: datetime | None = None) -> str:
    """A fresh version folder name: UTC time (sortable, readable) plus randomness (two publishes in one second)."""
    moment = now or datetime.now(UTC)
    return f"v{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def published_dir(media_root: Path, record: TitleRecord) -> Path:
    """Where ``record``'s manifests, renditions and audio live on disk."""
    return title_dir(media_root, record.title_id) / record.media_path("").rstrip("/")


def title_dir(media_root: Path, title_id: str) -> Path:
    return media_root / validate_title_id(title_id)


def read_title(media_root: Path, title_id: str) -> TitleRecord:
    path = title_dir(media_root, title_id) / TITLE_RECORD
    if not path.is_file():
        raise StreamlabError(f"title {title_id!r} is not published under {media_root}")
    return TitleRecord.model_validate_json(path.read_text())


def list_titles(media_root: Path) -> list[TitleRecord]:
    """Published titles, newest first; staging folders and unreadable records are skipped."""
    if not media_root.is_dir():
        return []
    records = []
    for child in media_root.iterdir():
        record = child / TITLE_RECORD
        if child.name.startswith(".") or not record.is_file():
            continue
        try:
            records.append(TitleRecord.model_validate_json(record.read_text()))
        except ValueError:
            continue
    return sorted(records, key=lambda r: r.created_at, reverse=True)
