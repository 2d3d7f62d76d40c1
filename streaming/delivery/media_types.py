"""What each served file is: its ``Content-Type`` and which cache policy it gets.

The streaming types are pinned here (RFC 8216 for HLS, ISO/IEC 23009-1 for DASH, RFC 8216bis
``video/iso.segment`` for CMAF media segments) rather than taken from the platform's
``mimetypes`` table, which does not know most of them and differs between machines.
"""

from __future__ import annotations

import mimetypes
from enum import Enum
from pathlib import PurePosixPath

STREAMING_TYPES: dict[str, str] = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".m4v": "video/mp4",
    ".ts": "video/mp2t",
    ".aac": "audio/aac",
    ".vtt": "text/vtt; charset=utf-8",
    ".key": "application/octet-stream",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


class CacheClass(str, Enum):  # noqa: UP042 - str mixin kept: values compare with config strings
    """The ``configs/delivery.yaml`` ``origin.cache_control`` entry a media file gets."""

    MANIFEST = "manifest"
    SEGMENT = "segment"
    KEY = "key"


_SEGMENT_SUFFIXES = {".m4s", ".mp4", ".m4a", ".m4v", ".ts", ".aac", ".vtt"}


def content_type(path: str) -> str:
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in STREAMING_TYPES:
        return STREAMING_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


def media_cache_class(path: str) -> CacheClass:
    """Segments and init segments never change under their URL; everything else may on republish."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".key":
        return CacheClass.KEY
    if suffix in _SEGMENT_SUFFIXES:
        return CacheClass.SEGMENT
    return CacheClass.MANIFEST
