"""The slices of HTTP semantics (RFC 9110, RFC 9111) both the origin and the cache tiers apply.

Byte ranges, entity tags and ``Cache-Control`` freshness live here once, so an object served
from disk by the origin and the same object served from memory by a tier answer identically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
"""Headers that describe one connection, never the message (RFC 9110 §7.6.1): proxies drop them."""

_RANGE_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


@dataclass(frozen=True)
class ByteRange:
    """An inclusive byte range ``start..end`` of a representation of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


class RangeNotSatisfiable(Exception):
    """The Range header is well formed but no range overlaps the representation (→ 416)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"no satisfiable range in a representation of {size} bytes")
        self.size = size

    @property
    def content_range(self) -> str:
        return f"bytes */{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range a ``Range`` header asks for, or ``None`` to serve the whole object.

    Malformed headers, other units and multi-range requests are ignored (the full object is a
    valid answer, RFC 9110 §14.2); a well-formed single range beyond the end raises
    :class:`RangeNotSatisfiable`. Players only ever ask for one range.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec or "," in spec:
        return None
    match = _RANGE_SPEC.match(spec)
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # suffix range: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(0, size - suffix), size - 1, size)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid spec: ignored, per the RFC
    if start >= size:
        raise RangeNotSatisfiable(size)
    return ByteRange(start, min(end, size - 1), size)


def _opaque_tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def etag_matches_none_match(if_none_match: str, etag: str) -> bool:
    """``If-None-Match`` uses the weak comparison: ``W/"x"`` matches ``"x"`` (RFC 9110 §13.1.2)."""
    tags = _opaque_tags(if_none_match)
    if "*" in tags:
        return True
    bare = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == bare for tag in tags)


def if_range_allows_partial(if_range: str | None, etag: str | None, last_modified: str | None) -> bool:
    """A partial answer only when ``If-Range`` (if any) still names this representation, strongly."""
    if not if_range:
        return True
    if_range = if_range.strip()
    if if_range.startswith('"') or if_range.startswith("W/"):
        return etag is not None and not if_range.startswith("W/") and if_range == etag
    return last_modified is not None and if_range == last_modified


def parse_http_date(value: str | None) -> float | None:
    """An HTTP-date as a POSIX timestamp, or ``None`` when absent or invalid (then it is ignored)."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def not_modified_since(if_modified_since: str | None, mtime_s: float) -> bool:
    """True when ``If-Modified-Since`` is a valid date not older than the file (second precision)."""
    since = parse_http_date(if_modified_since)
    return since is not None and int(mtime_s) <= since


def is_not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str | None, last_modified_s: float | None
) -> bool:
    """Whether a GET/HEAD of this representation is answered 304 (RFC 9110 §13.2.2).

    ``If-None-Match``, when present, decides alone; only without it does ``If-Modified-Since``
    count. The origin (from the file) and the tiers (from a stored response) both ask this, so a
    revalidation gets the same answer whichever of them holds the object.
    """
    if if_none_match is not None:
        return etag_matches_none_match(if_none_match, etag or "")
    return last_modified_s is not None and not_modified_since(if_modified_since, last_modified_s)


def http_date(timestamp_s: float) -> str:
    return formatdate(timestamp_s, usegmt=True)


def parse_cache_control(header: str | None) -> dict[str, str | None]:
    """``Cache-Control`` directives, lower-cased, with their (unquoted) arguments."""
    directives: dict[str, str | None] = {}
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.strip().lower()] = value.strip().strip('"') if value else None
    return directives


def shared_cache_ttl_s(cache_control: str | None, age_s: float, default_ttl_s: float) -> float:
    """Seconds a shared cache may still serve this response without asking upstream (RFC 9111 §4.2).

    ``no-store``, ``private`` and ``no-cache`` (which demands revalidation on every use, which
    these tiers do not do) give 0: never stored. ``s-maxage`` wins over ``max-age`` for a shared
    cache; the upstream's ``Age`` is subtracted so a chain of tiers never extends a lifetime.
    """
    directives = parse_cache_control(cache_control)
    if {"no-store", "private", "no-cache"} & directives.keys():
        return 0.0
    for name in ("s-maxage", "max-age"):
        if name in directives:
            try:
                lifetime = float(directives[name] or "")
            except ValueError:
                return 0.0
            return max(0.0, lifetime - age_s)
    return max(0.0, default_ttl_s - age_s)


def shareable_despite_authorization(cache_control: str | None) -> bool:
    """May a shared cache store, or reuse, a response to a request that carried ``Authorization``?

    Only when the response says so with ``public``, ``s-maxage`` or ``must-revalidate``
    (RFC 9111 §3.5): otherwise it may be personal to that user. The origin marks media, the
    catalog and the player ``public``, so authenticated viewers are cached like everyone else.
    """
    return bool({"public", "s-maxage", "must-revalidate"} & parse_cache_control(cache_control).keys())


def forbids_sharing(cache_control: str | None) -> bool:
    """``no-store``/``private`` answers belong to one request: never handed to coalesced waiters."""
    return bool({"no-store", "private"} & parse_cache_control(cache_control).keys())
