"""PSSH boxes for CMAF init segments (box reading itself lives in :mod:`streamlab.streaming.packaging.mp4box`).

VOD titles get their PSSH boxes from Shaka Packager; ``add_pssh`` stays for the live packager
(``streaming.live.drm``), whose segments FFmpeg's CENC writer encrypts without a ``pssh``: Chromium's
ClearKey CDM finds its initialisation data in a PSSH with the W3C common system ID, so one is
appended to ``moov``. In a fragmented init segment nothing points into ``moov`` by offset, so growing it is safe.
"""

from __future__ import annotations

import struct

from streamlab.streaming.packaging.mp4box import MP4BoxError, iter_boxes

COMMON_SYSTEM_ID = bytes.fromhex("1077efecc0b24d02ace33c1e52e2fb4b")
"""W3C 'Common PSSH box format' system ID, which ClearKey uses (EME initData type 'cenc')."""
CLEARKEY_DASH_SCHEME = "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"
"""DASH-IF scheme for ClearKey ContentProtection (what Shaka matches on)."""


def pssh_box(kids: list[bytes], system_id: bytes = COMMON_SYSTEM_ID) -> bytes:
    """A version-1 PSSH listing the key IDs (ISO/IEC 23001-7 §8.1)."""
    body = struct.pack(">B3x", 1) + system_id + struct.pack(">I", len(kids)) + b"".join(kids) + struct.pack(">I", 0)
    return struct.pack(">I4s", 8 + len(body), b"pssh") + body


def add_pssh(init_segment: bytes, kids: list[bytes]) -> bytes:
    """Return the init segment with a common-system PSSH appended to ``moov``."""
    for kind, payload, end in iter_boxes(init_segment):
        if kind == b"moov":
            if payload - 8 < 0 or struct.unpack_from(">I", init_segment, payload - 8)[0] != end - payload + 8:
                raise MP4BoxError("init segment's moov uses a 64-bit size; not supported")
            start = payload - 8
            pssh = pssh_box(kids)
            grown = struct.pack(">I", end - start + len(pssh)) + init_segment[start + 4:end] + pssh
            return init_segment[:start] + grown + init_segment[end:]
    raise MP4BoxError("init segment has no moov box")
