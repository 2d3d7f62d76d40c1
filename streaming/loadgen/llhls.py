"""What an LL-HLS client needs from playlists, read fast enough for thousands of viewers per core.

The ``m3u8`` package parses everything and is too slow to run 3 times a second per viewer on a
shared core; this reads only what a low-latency client acts on: the variants, each part with its
segment number, index, URI and program date-time, the preload hint, ``PART-HOLD-BACK``,
``EXT-X-TARGETDURATION`` and ``EXT-X-SKIP``. Dates are parsed with :func:`datetime.fromisoformat`
(the packager writes ISO 8601 with milliseconds and ``Z``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def _attributes(line: str) -> dict[str, str]:
    return {key: value.strip('"') for key, value in _ATTR.findall(line.split(":", 1)[1])}


@dataclass(frozen=True)
class Variant:
    uri: str
    bandwidth_bps: int


@dataclass(frozen=True)
class PartRef:
    msn: int
    index: int
    uri: str
    duration_s: float
    pdt_s: float
    """Program date-time (Unix s) of the part's first frame: its segment's PDT plus the parts before it."""


@dataclass(frozen=True)
class MediaPlaylist:
    parts: tuple[PartRef, ...]
    part_hold_back_s: float
    part_target_s: float
    preload_hint: str | None
    skipped: int
    target_s: float = 0.0
    """``EXT-X-TARGETDURATION``."""

    @property
    def last(self) -> PartRef | None:
        return self.parts[-1] if self.parts else None


def parse_multivariant(text: str) -> list[Variant]:
    """Variants, lowest bandwidth first (the order an ABR climbs)."""
    variants = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:") and i + 1 < len(lines):
            variants.append(Variant(lines[i + 1].strip(), int(_attributes(line).get("BANDWIDTH", "0"))))
    return sorted(variants, key=lambda v: v.bandwidth_bps)


def parse_media(text: str) -> MediaPlaylist:
    """Parts in order; segments listed without parts (older than the part window) are skipped."""
    msn = 0
    pdt_s: float | None = None
    offset_s = 0.0
    index = 0
    parts: list[PartRef] = []
    hold_back = part_target = target = 0.0
    hint = None
    skipped = 0
    for line in text.splitlines():
        if not line.startswith("#"):
            if line.strip():  # a complete segment's URI: the next lines belong to the next segment
                msn += 1
                index = 0
                offset_s = 0.0
                pdt_s = None
            continue
        if line.startswith("#EXT-X-PART:"):
            attrs = _attributes(line)
            duration = float(attrs["DURATION"])
            if pdt_s is not None:
                parts.append(PartRef(msn, index, attrs["URI"], duration, pdt_s + offset_s))
            index += 1
            offset_s += duration
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt_s = datetime.fromisoformat(line.split(":", 1)[1].strip().replace("Z", "+00:00")).timestamp()
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            msn = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-SKIP:"):
            skipped = int(_attributes(line)["SKIPPED-SEGMENTS"])
            msn += skipped
        elif line.startswith("#EXT-X-PRELOAD-HINT:"):
            hint = _attributes(line).get("URI")
        elif line.startswith("#EXT-X-SERVER-CONTROL:"):
            hold_back = float(_attributes(line).get("PART-HOLD-BACK", "0") or 0)
        elif line.startswith("#EXT-X-PART-INF:"):
            part_target = float(_attributes(line)["PART-TARGET"])
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1])
    return MediaPlaylist(tuple(parts), hold_back, part_target, hint, skipped, target)


_PARSED: dict[bytes, MediaPlaylist] = {}
PARSED_CACHE_SIZE = 256
"""Playlist bodies remembered per process: a few rungs x the versions of the last seconds."""


def parse_media_bytes(body: bytes) -> MediaPlaylist:
    """:func:`parse_media` of a response body, parsed once per process: every viewer at the live
    edge receives the same bytes for a playlist version, so a crowd parses each version once, not
    once per viewer (the result is shared: callers must not change it)."""
    parsed = _PARSED.get(body)
    if parsed is None:
        if len(_PARSED) >= PARSED_CACHE_SIZE:
            _PARSED.clear()
        parsed = _PARSED[body] = parse_media(body.decode())
    return parsed
