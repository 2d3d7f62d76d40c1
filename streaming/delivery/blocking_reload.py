"""LL-HLS blocking playlist reloads at a cache tier: a request for a version already passed is
answered from the newest stored one instead of going upstream.

A blocking reload (``playlist.m3u8?_HLS_msn=M&_HLS_part=P``) means "this playlist once it holds part
``P`` of segment ``M``, *or anything later*" (RFC 8216bis §6.2.5.2), and every such URL is its own
cache key, kept ``max-age=6`` by the live origin. Viewers at the live edge share one key per
version (coalesced, one upstream request each). A viewer a stall left behind does not: it asks for
an old version's key, which the tier still has for a while (a hit) and then no longer (expired), so
it goes upstream for a version the origin already served, and the origin answers the current
playlist a second time. Measured on a 1,000-viewer flash crowd, that was a third more origin
requests than playlist versions (1.33 per version per shield; acceptance is ≤ 1).

The tier already holds an answer that satisfies such a request: the newest blocked reload it
stored for the same playlist (same path, same other query parameters such as ``_HLS_skip``). So it
remembers, per playlist, the newest ``(msn, part)`` it stored and, when a blocking request's own
key is not cached, answers from that entry when it is at least as new as asked. The answer is
one the origin would give too (a later playlist), the viewer jumps to the newer version at once,
and the origin sees at most one request per version per tier. Requests without ``_HLS_part``
(whole-segment blocking) are left alone: their "or later" needs segment completeness, which a
part number does not tell.

When that newest answer has expired too, the request still must not go upstream under its own
key: it was fetched once already, or a newer one was. This happens on a playlist few viewers
watch (a low rung that only stalled viewers drop to: measured on a saturated 1,000-viewer Python
edge, 3.6% of its playlist versions fetched twice, every one on 180p), because the origin keeps an answer for a version
already passed only 1 s (it is the current playlist, not the version its URL names: kept longer,
a crowd that resumed behind live stays behind). The tier then asks upstream for the version
*after* the newest it stored (:meth:`NewestVersions.catching_up`): a key no request of this tier
has fetched, whose answer (that version or later) satisfies the older request as well. Usually
that version is already out and the origin answers at once with its current playlist, as it
would for the old key; if it is the live edge, the request joins the live-edge viewers' fill.
Every upstream request of a tier is then for a version it never fetched, assuming (as the rest
of this module does) that a playlist's ``(msn, part)`` only grows.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

MSN, PART = "_HLS_msn", "_HLS_part"


@dataclass(frozen=True)
class BlockingReload:
    """A blocking playlist request: the playlist it is for (``family``) and the version it waits for."""

    family: str
    """The target without ``_HLS_msn``/``_HLS_part``: every version of one playlist view shares it."""
    version: tuple[int, int]
    """``(msn, part)``; ``part`` past a segment's last part means the next segment's first, which
    compares after every part of ``msn`` and before ``(msn + 1, 0)``: never newer than it is."""


def blocking_reload(target: str) -> BlockingReload | None:
    """The blocking reload ``target`` asks for, or ``None`` when it is not one (or malformed: the
    origin then answers it, 400, as it would without this)."""
    path, _, query = target.partition("?")
    if MSN not in query or PART not in query or not path.endswith(".m3u8"):
        return None
    params = parse_qsl(query, keep_blank_values=True)
    values = dict(params)
    try:
        version = (int(values[MSN]), int(values[PART]))
    except (KeyError, ValueError):
        return None
    if version[0] < 0 or version[1] < 0 or sum(name in (MSN, PART) for name, _ in params) != 2:
        return None
    rest = [(name, value) for name, value in params if name not in (MSN, PART)]
    return BlockingReload(path + ("?" + urlencode(rest) if rest else ""), version)


class NewestVersions:
    """Per playlist family, the target of the newest blocking reload this tier stored (bounded)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._newest: OrderedDict[str, tuple[tuple[int, int], str]] = OrderedDict()

    def stored(self, reload: BlockingReload, target: str) -> None:
        """``target`` (the answer to ``reload``) is now in the cache."""
        known = self._newest.get(reload.family)
        if known is None or reload.version >= known[0]:
            self._newest[reload.family] = (reload.version, target)
        self._newest.move_to_end(reload.family)
        while len(self._newest) > self.capacity:
            self._newest.popitem(last=False)

    def satisfying(self, reload: BlockingReload) -> str | None:
        """The stored target whose answer holds at least the version ``reload`` waits for."""
        known = self._newest.get(reload.family)
        return known[1] if known is not None and known[0] >= reload.version else None

    def catching_up(self, reload: BlockingReload) -> str | None:
        """For a request the newest stored version covers: the target asking for the part after
        that version (the same query, ``_HLS_part`` one higher, which past a segment's last part
        means the next segment's first); ``None`` when nothing stored covers ``reload``."""
        known = self._newest.get(reload.family)
        if known is None or known[0] < reload.version:
            return None
        (msn, part), target = known
        path, _, query = target.partition("?")
        params = [(name, str(msn) if name == MSN else str(part + 1) if name == PART else value)
                  for name, value in parse_qsl(query, keep_blank_values=True)]
        return path + "?" + urlencode(params)
