"""A cache tier's upstream fetches counted per object: the evidence for "at most one origin request
per part and per playlist version per shield".

A ratio (origin media requests / parts published) can read 1.00 while one object was fetched twice
and another never (a part nobody watched), so each tier counts its upstream fetches per object
and reports, per kind, the objects fetched, the **maximum** fetches of one object and the share of
objects fetched more than once. The kinds are the two the acceptance names:

* ``media``: a part, segment or init file (keyed by its path; immutable once written);
* ``playlist_version``: a blocking playlist reload, keyed by the playlist view it is for (the path
  and its other query parameters, e.g. ``_HLS_skip``) and the version ``(msn, part)`` it waits for
  (:func:`.blocking_reload.blocking_reload`). A delta and a full playlist of the same version are
  two views, two objects.

Other targets (plain playlists, the multivariant playlist, the catalog) are not counted.

Every fetch after an object's first is put down to what became of the previous one, so a fault
window's legitimate refetches are reported apart from a coalescing gap:

* ``after_error``: the previous fetch failed or its answer was not stored (the upstream down or
  restarting, a live 503 past the block bound, a 404 for a part not announced yet): fetching again
  is the only way to get the object;
* ``after_restart``: the previous fetch was made by an earlier instance of the tier (a shield
  restarted by a fault plan: its cache went with it);
* ``after_stored``: the previous answer was stored and is no longer served (expired or evicted):
  the origin answered the same object twice, which the acceptance counts against the tier;
* ``concurrent``: the previous fetch was still running (two fetches of one object at once: a
  coalescing gap too);
* ``pass``: a request forwarded without a lookup (hit-for-pass), never coalesced by design.

``max_outside_faults`` is the maximum when ``after_error`` and ``after_restart`` fetches are left
out: the number to hold to "≤ 1" outside a fault window; ``gaps`` lists the latest
``after_stored``/``concurrent`` refetches (target, time since the previous fetch, wall time) so
each can be traced to its cause (``peak run`` marks those inside a fault window). The ones seen
so far: an answer to a version already passed is the current playlist, which the origin lets
tiers keep 1 s only, and a viewer asking for that version again later (retrying after an origin
restart, or lagging on a rung nobody watches at the live edge) fetched it again; the Python tiers
now ask for the version after the newest they stored instead (:mod:`.blocking_reload`). The log is bounded (``capacity`` objects, oldest
forgotten first: a forgotten object fetched again counts as new, and ``forgotten`` says how many
were dropped), so a long-running tier keeps a constant footprint.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from streamlab.streaming.delivery.blocking_reload import blocking_reload

KINDS = ("media", "playlist_version")
CAUSES = ("after_error", "after_restart", "after_stored", "concurrent", "pass")
MEDIA_SUFFIXES = (".m4s", ".mp4", ".m4a", ".m4v", ".ts", ".aac", ".cmfv", ".cmfa")
DEFAULT_CAPACITY = 50_000
"""Objects remembered per tier: a 5-minute, 3-rung LL-HLS crowd makes about 5,400 of them."""
GAPS_KEPT = 20
"""The latest ``after_stored``/``concurrent`` refetches kept with their targets, to find out why."""


def object_of(target: str) -> tuple[str, tuple] | None:
    """``(kind, key)`` of a request target, or ``None`` for targets that are not counted."""
    reload = blocking_reload(target)
    if reload is not None:
        return "playlist_version", (reload.family, reload.version)
    path = target.partition("?")[0]
    if path.endswith(MEDIA_SUFFIXES):
        return "media", (path,)
    return None


@dataclass
class _Object:
    fetches: int = 0
    clean: int = 0
    """Fetches not caused by an error or a restart."""
    generation: int = 0
    stored: bool = False
    """Whether the last fetch's answer was stored (unknown while it runs: not yet)."""
    running: int = 0
    last_at: float = 0.0
    ttl_s: float | None = None
    """The stored answer's lifetime (None: not stored)."""


@dataclass
class _KindTotals:
    objects: int = 0
    fetches: int = 0
    above_one: int = 0
    max_fetches: int = 0
    max_outside_faults: int = 0


class FetchLog:
    """Upstream fetches per object of one tier, shared across the tier's restarts (generations)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.generation = 0
        self._objects: OrderedDict[tuple[str, tuple], _Object] = OrderedDict()
        self._totals = {kind: _KindTotals() for kind in KINDS}
        self._causes = {kind: dict.fromkeys(CAUSES, 0) for kind in KINDS}
        self._gaps: deque[dict[str, object]] = deque(maxlen=GAPS_KEPT)
        self.forgotten = 0

    def new_generation(self) -> int:
        """A tier instance starts with this log (a restart: a new generation, an empty cache)."""
        self.generation += 1
        return self.generation

    def started(self, target: str, generation: int, passed: bool = False) -> tuple[str, tuple] | None:
        """A fetch of ``target`` goes upstream now; returns its handle for :meth:`finished` (``None``:
        not a counted object)."""
        handle = object_of(target)
        if handle is None:
            return None
        kind = handle[0]
        entry = self._objects.get(handle)
        totals = self._totals[kind]
        if entry is None:
            entry = self._objects[handle] = _Object()
            totals.objects += 1
            while len(self._objects) > self.capacity:
                self._objects.popitem(last=False)
                self.forgotten += 1
            cause = None
        elif passed:
            cause = "pass"
        elif entry.running:
            cause = "concurrent"
        elif entry.generation < generation:
            cause = "after_restart"
        elif not entry.stored:
            cause = "after_error"
        else:
            cause = "after_stored"
        self._objects.move_to_end(handle)
        now = time.monotonic()
        if cause in ("after_stored", "concurrent"):
            self._gaps.append({"kind": kind, "target": target, "cause": cause, "fetch": entry.fetches + 1,
                               "since_previous_s": round(now - entry.last_at, 3), "previous_ttl_s": entry.ttl_s,
                               "at_unix_s": round(time.time(), 3)})
        entry.last_at = now
        entry.fetches += 1
        entry.running += 1
        entry.generation = generation
        entry.stored = False
        totals.fetches += 1
        if cause is not None:
            self._causes[kind][cause] += 1
        if cause not in ("after_error", "after_restart"):
            entry.clean += 1
        if entry.fetches == 2:
            totals.above_one += 1
        totals.max_fetches = max(totals.max_fetches, entry.fetches)
        totals.max_outside_faults = max(totals.max_outside_faults, entry.clean)
        return handle

    def finished(self, handle: tuple[str, tuple] | None, stored: bool, ttl_s: float | None = None) -> None:
        """The fetch ended; ``stored``: its answer is in the tier's cache (later requests hit it)
        for ``ttl_s`` (kept with a later gap: a short one tells a passed version's answer)."""
        entry = self._objects.get(handle) if handle is not None else None
        if entry is not None:
            entry.stored = stored
            entry.ttl_s = round(ttl_s, 3) if stored and ttl_s is not None else None
            entry.running = max(0, entry.running - 1)

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind in KINDS:
            totals = self._totals[kind]
            out[kind] = {
                "objects": totals.objects, "fetches": totals.fetches, "max": totals.max_fetches,
                "max_outside_faults": totals.max_outside_faults, "above_one": totals.above_one,
                "share_above_one": round(totals.above_one / totals.objects, 4) if totals.objects else 0.0,
                "refetch_causes": dict(self._causes[kind]),
            }
        out["forgotten"] = self.forgotten
        out["gaps"] = [dict(gap) for gap in self._gaps]
        return out


def merge_snapshots(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """Several tiers' (shields') snapshots as one: counts summed, maxima the largest. Each object
    is fetched by one shield only (rendezvous hashing), so the sums count distinct objects."""
    out: dict[str, Any] = {}
    for kind in KINDS:
        parts = [s[kind] for s in snapshots if kind in s]
        objects = sum(p["objects"] for p in parts)
        above = sum(p["above_one"] for p in parts)
        out[kind] = {
            "objects": objects, "fetches": sum(p["fetches"] for p in parts),
            "max": max((p["max"] for p in parts), default=0),
            "max_outside_faults": max((p["max_outside_faults"] for p in parts), default=0),
            "above_one": above, "share_above_one": round(above / objects, 4) if objects else 0.0,
            "refetch_causes": {c: sum(p["refetch_causes"].get(c, 0) for p in parts) for c in CAUSES},
        }
    out["forgotten"] = sum(int(s.get("forgotten", 0)) for s in snapshots)
    out["gaps"] = [dict(gap) for s in snapshots for gap in s.get("gaps", [])]
    return out
