"""What to warm in one region's edge: the first segments of the most-demanded titles, within a byte budget.

Greedy by expected views per byte (the classic 1/2-approximation of the knapsack, exact when the
titles cost the same): a title is warmed whole (its first ``first_segments`` of every rendition
plus init segments) or not at all, because a viewer's startup needs the first segments of
whichever rung their player picks. Titles are never split: half a title warms no one's startup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class WarmObject:
    path: str
    """URL path under the edge, e.g. ``/media/bbb/720p_3000k/seg_00001.m4s``."""
    bytes: int


@dataclass(frozen=True)
class WarmPlan:
    titles: list[str]
    objects: list[WarmObject]

    @property
    def bytes(self) -> int:
        return sum(o.bytes for o in self.objects)


def plan(demand: Mapping[str, float], objects_by_title: Mapping[str, Sequence[WarmObject]], budget_bytes: int) -> WarmPlan:
    """The titles (by expected views per byte, best first) whose warm objects fit ``budget_bytes`` together."""
    def cost(title: str) -> int:
        return sum(o.bytes for o in objects_by_title[title])

    candidates = [t for t in demand if t in objects_by_title and demand[t] > 0 and cost(t) > 0]
    ranked = sorted(candidates, key=lambda t: (-demand[t] / cost(t), t))
    chosen: list[str] = []
    objects: list[WarmObject] = []
    used = 0
    for title in ranked:
        if used + cost(title) <= budget_bytes:
            chosen.append(title)
            objects.extend(objects_by_title[title])
            used += cost(title)
    return WarmPlan(chosen, objects)
