"""The upper convex hull of (bitrate, VMAF) trial points across resolutions.

A point is worth encoding only if no other setting gives more quality for fewer bits (the Pareto
front) and it is not beaten by mixing its neighbours (convexity). The hull is taken in
(log bitrate, VMAF): quality grows about linearly with log-rate within one resolution, so that is
the plane where hull segments (and the interpolation between them that the ladder rules do) are
meaningful; in linear rate the hull would discard the knees where a smaller resolution takes over.
Where resolutions cross over is exactly what per-title encoding exploits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, TypeVar


class RatePoint(Protocol):
    bitrate_kbps: float
    vmaf: float


P = TypeVar("P", bound=RatePoint)


def pareto_front(points: Sequence[P]) -> list[P]:
    """Points for which no other point has both a lower (or equal) bitrate and a higher VMAF; by bitrate."""
    front: list[P] = []
    for point in sorted(points, key=lambda p: (p.bitrate_kbps, -p.vmaf)):
        if not front or point.vmaf > front[-1].vmaf:
            front.append(point)
    return front


def upper_hull(points: Sequence[P]) -> list[P]:
    """The upper convex hull of the Pareto front in (log bitrate, VMAF), by increasing bitrate."""
    hull: list[P] = []
    for point in pareto_front(points):
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], point) >= 0:
            hull.pop()
        hull.append(point)
    return hull


def _cross(a: RatePoint, b: RatePoint, c: RatePoint) -> float:
    """> 0 when b lies below the segment a→c (b is then not on the upper hull)."""
    ax, bx, cx = math.log(a.bitrate_kbps), math.log(b.bitrate_kbps), math.log(c.bitrate_kbps)
    return (bx - ax) * (c.vmaf - a.vmaf) - (b.vmaf - a.vmaf) * (cx - ax)
