"""Serve one file from disk the way a CDN origin must: ETag, conditional GET, single byte ranges, HEAD.

Bodies are streamed in chunks read off the event loop, so a large file neither blocks other
requests nor sits in memory; ``Content-Length`` is always set, which the tiers rely on to decide
whether an object fits their cache before reading it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from streamlab.streaming.delivery.http_semantics import (
    RangeNotSatisfiable,
    http_date,
    if_range_allows_partial,
    is_not_modified,
    parse_range,
)


def file_etag(size: int, mtime_ns: int, inode: int) -> str:
    """A strong validator from the file's identity: published files are replaced, never edited."""
    return f'"{inode:x}-{size:x}-{mtime_ns:x}"'


async def _read_chunks(path: Path, start: int, length: int, chunk_bytes: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        await handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = await handle.read(min(chunk_bytes, remaining))
            if not chunk:  # the file shrank under us: stop rather than hang
                return
            remaining -= len(chunk)
            yield chunk


async def file_response(
    request: Request, path: Path, *, content_type: str, cache_control: str, chunk_bytes: int
) -> Response:
    stat = await anyio.to_thread.run_sync(path.stat)
    size = stat.st_size
    etag = file_etag(size, stat.st_mtime_ns, stat.st_ino)
    last_modified = http_date(stat.st_mtime)
    headers = {
        "Content-Type": content_type,
        "Cache-Control": cache_control,
        "ETag": etag,
        "Last-Modified": last_modified,
        "Accept-Ranges": "bytes",
    }
    if is_not_modified(request.headers.get("if-none-match"), request.headers.get("if-modified-since"), etag, stat.st_mtime):
        return Response(status_code=304, headers={k: headers[k] for k in ("Cache-Control", "ETag", "Last-Modified")})

    start, length, status = 0, size, 200
    if request.method == "GET" and if_range_allows_partial(request.headers.get("if-range"), etag, last_modified):
        try:
            byte_range = parse_range(request.headers.get("range"), size)
        except RangeNotSatisfiable as exc:
            return Response(
                status_code=416,
                headers={"Content-Range": exc.content_range, "Accept-Ranges": "bytes", "Cache-Control": "no-store"},
            )
        if byte_range is not None:
            start, length, status = byte_range.start, byte_range.length, 206
            headers["Content-Range"] = byte_range.content_range
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    if length <= chunk_bytes:
        body = await anyio.to_thread.run_sync(_read_slice, path, start, length)
        return Response(body, status_code=status, headers=headers)
    return StreamingResponse(_read_chunks(path, start, length, chunk_bytes), status_code=status, headers=headers)


def _read_slice(path: Path, start: int, length: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(start)
        return handle.read(length)
