"""Which pathway first, per region: live QoE per (pathway, region) judged over a window, with hysteresis.

A pathway is *degraded* in a region when, over the last ``window_s``, its failed-request ratio,
its rebuffer ratio or its median throughput breaks the configured bound. Hysteresis in time:
it must look bad for ``demote_after_s`` before it drops in the order (one bad segment does not
flap every player), and good for ``promote_after_s`` before it comes back (a pathway that just
recovered is not trusted with the whole region at once). The order is the region's preference
(``steering.region_preference``, else the pathways' order) with degraded pathways moved last,
so a degraded pathway still serves as the fallback of last resort.

Fewer than ``min_samples`` beacons in the window is no evidence: the pathway keeps its state.
That is why the server also probes every pathway per region (:mod:`.server`): a pathway nobody is
steered to any more still gets judged, and can come back.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from streamlab.streaming.edge.settings import SteeringSettings

MAX_SAMPLES = 10_000
"""Per (pathway, region): a bound on the window's memory whatever the beacon rate."""


class QoeBeacon(BaseModel):
    """What a player (or the server's own probe) reports about one pathway in one region."""

    region: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    pathway: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")
    requests: int = Field(1, ge=0, le=100_000)
    errors: int = Field(0, ge=0, le=100_000)
    rebuffer_s: float = Field(0.0, ge=0, le=86_400)
    played_s: float = Field(0.0, ge=0, le=86_400)
    throughput_kbps: float | None = Field(None, ge=0, le=10_000_000)


@dataclass
class PathwayHealth:
    degraded: bool = False
    bad_since: float | None = None
    good_since: float | None = None
    samples: deque[tuple[float, QoeBeacon]] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))


@dataclass(frozen=True)
class WindowMetrics:
    samples: int
    error_ratio: float
    rebuffer_ratio: float
    throughput_kbps: float | None


class SteeringPolicy:
    """Telemetry in, pathway order out; ``clock`` is monotonic seconds (a test passes its own)."""

    def __init__(self, settings: SteeringSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.pathways = [p.id for p in settings.pathways]
        self._health: dict[tuple[str, str], PathwayHealth] = {}

    def record(self, beacon: QoeBeacon) -> None:
        if beacon.pathway not in self.pathways:
            raise ValueError(f"unknown pathway {beacon.pathway!r}; known: {', '.join(self.pathways)}")
        if beacon.errors > beacon.requests:
            raise ValueError(f"errors ({beacon.errors}) exceed requests ({beacon.requests})")
        self._state(beacon.region, beacon.pathway).samples.append((self.clock(), beacon))

    def _state(self, region: str, pathway: str) -> PathwayHealth:
        return self._health.setdefault((region, pathway), PathwayHealth())

    def metrics(self, region: str, pathway: str) -> WindowMetrics:
        state = self._state(region, pathway)
        horizon = self.clock() - self.settings.window_s
        while state.samples and state.samples[0][0] < horizon:
            state.samples.popleft()
        beacons = [b for _, b in state.samples]
        requests = sum(b.requests for b in beacons)
        played = sum(b.played_s for b in beacons)
        rates = [b.throughput_kbps for b in beacons if b.throughput_kbps is not None]
        return WindowMetrics(
            samples=len(beacons),
            error_ratio=sum(b.errors for b in beacons) / requests if requests else 0.0,
            rebuffer_ratio=sum(b.rebuffer_s for b in beacons) / played if played else 0.0,
            throughput_kbps=statistics.median(rates) if rates else None,
        )

    def _bad(self, m: WindowMetrics) -> bool:
        s = self.settings
        slow = s.min_throughput_kbps > 0 and m.throughput_kbps is not None and m.throughput_kbps < s.min_throughput_kbps
        return m.error_ratio > s.max_error_ratio or m.rebuffer_ratio > s.max_rebuffer_ratio or slow

    def _update(self, region: str, pathway: str) -> PathwayHealth:
        state, m, now = self._state(region, pathway), self.metrics(region, pathway), self.clock()
        if m.samples < self.settings.min_samples:
            return state
        if self._bad(m):
            state.good_since = None
            state.bad_since = now if state.bad_since is None else state.bad_since
            if not state.degraded and now - state.bad_since >= self.settings.demote_after_s:
                state.degraded = True
        else:
            state.bad_since = None
            state.good_since = now if state.good_since is None else state.good_since
            if state.degraded and now - state.good_since >= self.settings.promote_after_s:
                state.degraded = False
        return state

    def order(self, region: str) -> list[str]:
        """The region's pathways, healthy first (each group in preference order)."""
        preference = self.settings.preference(region)
        degraded = {p for p in preference if self._update(region, p).degraded}
        return [p for p in preference if p not in degraded] + [p for p in preference if p in degraded]

    def snapshot(self, regions: list[str]) -> dict[str, object]:
        out: dict[str, object] = {}
        for region in regions:
            order = self.order(region)
            out[region] = {"order": order, "pathways": {
                p: {"degraded": self._state(region, p).degraded, **vars(self.metrics(region, p))} for p in order}}
        return out
