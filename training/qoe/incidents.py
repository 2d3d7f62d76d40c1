"""Incidents with ground truth: kinds, scopes, the ``--incidents`` SPEC and the seeded random mix.

Kinds and the dimension each is scoped to (the *cause dimension* a detector must name):

=================  =========  ==========================================================
kind               dimension  effect on the sessions it touches
=================  =========  ==========================================================
edge_collapse      edge       throughput x ``throughput_factor`` while active (re-simulated)
region_collapse    region     the same on every edge of the region
origin_slowness    region     sessions starting while active wait ``extra_startup_s`` more
broken_encode      title      sessions starting while active fail before the first frame
abr_regression     device     the player oscillates (``jump_levels`` up on alternate chunks)
app_bug            device     extra errors per minute and crashes (playback failures)
=================  =========  ==========================================================

**SPEC** (``--incidents``) is one of:

* ``random`` (default): the seeded mix of ``configs/qoe.yaml`` ``incidents`` (count per day, durations,
  gaps); ``random:N`` draws N per day; ``none``: no incidents;
* a path to a ``.json``/``.yaml`` file holding a list of ``{kind, value?, start?, duration?}``;
* a ``;``-separated list of ``KIND[(VALUE)][@START][+DURATION]`` items, e.g.
  ``edge_collapse(us-east-2)@06:30+40m;broken_encode(t001)@1/14:00+20m;app_bug@+30m``.
  ``START`` is ``HH:MM`` on the first day, ``D/HH:MM`` on day D (0-based) or ``Nm`` minutes after the
  start; ``DURATION`` is ``Nm``, ``Nh`` or ``Ns``. Anything left out (value, start, duration) is drawn
  from the seed. Unknown kinds or values are refused with the valid ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from streamlab.models.qoe.errors import IncidentSpecError
from streamlab.models.qoe.labels import Incident
from streamlab.models.qoe.settings import IncidentMixSettings
from streamlab.training.qoe.population import Population

KIND_DIMENSION: dict[str, str] = {
    "edge_collapse": "edge",
    "region_collapse": "region",
    "origin_slowness": "region",
    "broken_encode": "title",
    "abr_regression": "device",
    "app_bug": "device",
}


@dataclass(frozen=True)
class _Item:
    kind: str
    value: str | None
    start_s: float | None
    duration_s: float | None


_ITEM = re.compile(r"^(?P<kind>[a-z_]+)(?:\((?P<value>[^()]*)\))?(?:@(?P<start>[0-9/:m.]+))?(?:\+(?P<dur>[0-9.]+[smh]))?$")


def _parse_start(text: str, origin_s: float) -> float:
    m = re.fullmatch(r"(?:(\d+)/)?(\d{1,2}):(\d{2})", text)
    if m:
        day, hh, mm = int(m.group(1) or 0), int(m.group(2)), int(m.group(3))
        if hh > 23 or mm > 59:
            raise IncidentSpecError(f"start {text!r}: not a time of day (HH:MM, 00:00..23:59)")
        return origin_s + day * 86400.0 + hh * 3600.0 + mm * 60.0
    m = re.fullmatch(r"([0-9.]+)m", text)
    if m:
        return origin_s + float(m.group(1)) * 60.0
    raise IncidentSpecError(f"start {text!r}: use HH:MM, D/HH:MM or Nm (minutes after the start)")


def _parse_duration(text: str) -> float:
    value, unit = float(text[:-1]), text[-1]
    seconds = value * {"s": 1.0, "m": 60.0, "h": 3600.0}[unit]
    if seconds <= 0:
        raise IncidentSpecError(f"duration {text!r} must be positive")
    return seconds


def _items_from_text(spec: str, origin_s: float) -> list[_Item]:
    items = []
    for raw in [p.strip() for p in spec.split(";") if p.strip()]:
        m = _ITEM.match(raw)
        if not m:
            raise IncidentSpecError(
                f"incident {raw!r}: expected KIND[(VALUE)][@START][+DURATION], e.g. edge_collapse(us-east-2)@06:30+40m")
        items.append(_Item(m["kind"], m["value"] or None,
                           _parse_start(m["start"], origin_s) if m["start"] else None,
                           _parse_duration(m["dur"]) if m["dur"] else None))
    return items


def _items_from_file(path: Path, origin_s: float) -> list[_Item]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise IncidentSpecError(f"{path}: not valid YAML/JSON: {exc}") from None
    if not isinstance(data, list):
        raise IncidentSpecError(f"{path}: expected a list of incidents, got {type(data).__name__}")
    items = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "kind" not in entry:
            raise IncidentSpecError(f"{path}: entry {i} must be a mapping with at least 'kind'")
        start = entry.get("start")
        duration = entry.get("duration")
        items.append(_Item(str(entry["kind"]), None if entry.get("value") is None else str(entry["value"]),
                           None if start is None else _parse_start(str(start), origin_s),
                           None if duration is None else _parse_duration(str(duration))))
    return items


def parse_spec(spec: str | None, population: Population, mix: IncidentMixSettings, rng: np.random.Generator,
               origin_s: float, duration_s: float) -> list[Incident]:
    """Turn a SPEC into concrete incidents; unspecified parts are drawn from ``rng``."""
    spec = (spec or "random").strip()
    if spec == "none":
        return []
    m = re.fullmatch(r"random(?::(\d+))?", spec)
    if m:
        days = duration_s / 86400.0
        whole = max(int(np.ceil(days)), 1)
        if m.group(1):
            count = int(round(int(m.group(1)) * days))
        else:
            draws = rng.integers(mix.per_day[0], mix.per_day[1] + 1, size=whole).sum()
            count = max(1, int(round(draws * days / whole)))
        kinds = list(KIND_DIMENSION)
        items = [_Item(kinds[int(rng.integers(len(kinds)))], None, None, None) for _ in range(count)]
    elif spec.endswith((".json", ".yaml", ".yml")):
        path = Path(spec)
        if not path.is_file():
            raise IncidentSpecError(f"incident file {path} not found")
        items = _items_from_file(path, origin_s)
    else:
        items = _items_from_text(spec, origin_s)
    return _realise(items, population, mix, rng, origin_s, duration_s)


def _realise(items: list[_Item], population: Population, mix: IncidentMixSettings, rng: np.random.Generator,
             origin_s: float, duration_s: float) -> list[Incident]:
    incidents: list[Incident] = []
    taken: list[tuple[float, float]] = []
    for item in items:
        if item.kind not in KIND_DIMENSION:
            raise IncidentSpecError(f"unknown incident kind {item.kind!r}; valid: {', '.join(KIND_DIMENSION)}")
        dimension = KIND_DIMENSION[item.kind]
        valid = population.values(dimension)
        if item.value is not None and item.value not in valid:
            raise IncidentSpecError(f"{item.kind}: unknown {dimension} {item.value!r}; valid: {', '.join(valid)}")
        value = item.value
        if value is None:
            pool = valid[: mix.title_top_k] if dimension == "title" else valid
            value = pool[int(rng.integers(len(pool)))]
        duration = item.duration_s or float(rng.uniform(*mix.duration_min)) * 60.0
        start = item.start_s if item.start_s is not None else _free_start(rng, taken, duration, mix.gap_min * 60.0, origin_s, duration_s)
        if start is None:
            continue  # no room left in the simulated span for another random incident
        taken.append((start, start + duration))
        incidents.append(Incident("", item.kind, dimension, value, round(start, 3), round(start + duration, 3),
                                  _params(item.kind, mix, rng)))
    incidents.sort(key=lambda i: i.start_s)
    return [Incident(f"inc{n:02d}", i.kind, i.dimension, i.value, i.start_s, i.end_s, i.params) for n, i in enumerate(incidents)]


def _free_start(rng: np.random.Generator, taken: list[tuple[float, float]], duration: float, gap: float,
                origin_s: float, span_s: float) -> float | None:
    lo, hi = origin_s + 20 * 60.0, origin_s + span_s - duration - 10 * 60.0
    if hi <= lo:
        return None
    for _ in range(200):
        start = float(rng.uniform(lo, hi))
        if all(start + duration + gap <= a or start >= b + gap for a, b in taken):
            return start
    return None


def _params(kind: str, mix: IncidentMixSettings, rng: np.random.Generator) -> dict[str, Any]:
    if kind == "origin_slowness":
        lo, hi = mix.origin_slowness["extra_startup_s"]
        return {"extra_startup_s": [lo, hi]}
    return dict(getattr(mix, kind))
