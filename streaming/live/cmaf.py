"""Read a fragmented-MP4 byte stream (FFmpeg's CMAF output on a pipe) box by box, as it arrives.

The stream is ``ftyp`` + ``moov`` (the init segment), then one ``moof`` + ``mdat`` pair per CMAF
chunk. Each chunk is handed on with its timing read from the ``moof`` by the VOD packager's box
reader (:mod:`streamlab.streaming.packaging.mp4box`), so live and VOD agree on what a fragment is.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from streamlab.streaming.packaging.mp4box import FragmentInfo, InitInfo, MP4BoxError, parse_fragment, parse_init

MAX_BOX_BYTES = 64 * 1024 * 1024
"""A chunk larger than this is a corrupt length, not video: refuse rather than buffer it."""


@dataclass(frozen=True)
class Chunk:
    """One CMAF chunk (``moof`` + ``mdat``) and its timing, in the track's timescale."""

    data: bytes
    info: FragmentInfo


async def _read_box(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """``(type, whole box bytes)``, or ``None`` at a clean end of stream."""
    try:
        header = await reader.readexactly(8)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise MP4BoxError(f"fMP4 stream ended inside a box header ({len(exc.partial)} bytes)") from None
        return None
    size, kind = struct.unpack(">I4s", header)
    extra = b""
    if size == 1:
        extra = await reader.readexactly(8)
        size = struct.unpack(">Q", extra)[0]
    if size < 8 + len(extra) or size > MAX_BOX_BYTES:
        raise MP4BoxError(f"fMP4 stream: box {kind!r} has an impossible size {size}")
    body = await reader.readexactly(size - 8 - len(extra))
    return kind, header + extra + body


async def read_init(reader: asyncio.StreamReader) -> tuple[bytes, InitInfo]:
    """The init segment (everything up to and including ``moov``) and what it describes."""
    parts: list[bytes] = []
    while True:
        box = await _read_box(reader)
        if box is None:
            raise MP4BoxError("fMP4 stream ended before its moov box")
        parts.append(box[1])
        if box[0] == b"moov":
            data = b"".join(parts)
            return data, parse_init(data, "live fMP4 stream")


async def read_chunk(reader: asyncio.StreamReader, init: InitInfo) -> Chunk | None:
    """The next ``moof`` + ``mdat`` (any ``styp``/``prft``/``sidx`` before it is kept with it)."""
    parts: list[bytes] = []
    while True:
        box = await _read_box(reader)
        if box is None:
            return None
        parts.append(box[1])
        if box[0] == b"mdat":
            data = b"".join(parts)
            return Chunk(data, parse_fragment(data, init, "live fMP4 chunk"))
