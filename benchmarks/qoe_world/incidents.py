"""Incident types of this world, their schedule for a day, and the decoys.

Each incident has a scope written exactly as SCHEMA.md names alerts: a single dimension
(``edge`` = ``euc-fra1``) or a pair (``isp*region`` = ``comcast*us-east``). The generator reads
:attr:`Incident.effect` to change the sessions in scope while the incident is active; the labels
are this module's output, so the scorer and the generator cannot disagree about what happened.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from benchmarks.qoe_world.world import (
    CDN_MIX,
    ISPS,
    LIVE_CHANNELS,
    REGIONS,
    WorldConfig,
)
from streamlab.core.errors import UsageError

INCIDENT_TYPES: tuple[str, ...] = (
    "isp_collapse",  # isp*region: one ISP's throughput collapses in one region
    "cdn_region_congestion",  # cdn*region: a CDN congested in one region (rebuffering)
    "model_crash",  # device_model: a firmware/app push makes one model crash mid-stream
    "pathway_5xx",  # pathway: one steering pathway serves 5xx (start failures, errors)
    "rendition_corrupt",  # title*rendition: one rendition of one title fails to decode
    "drm_slow",  # device_class: licence server slow for one class (startup up, some VSF)
    "region_cap",  # region: capped to a low rung (quality only: bitrate down, no stalls)
    "edge_drift",  # edge: startup time creeping up over hours
    "live_latency",  # title: one live channel's latency blows up
    "app_start_crash",  # device_class*app_version: a new version crashes on start
)

NEW_APP_VERSION = "5.3.1"
DECOY_APP_VERSION = "5.3.0"
PREMIERE_TITLE = "m-premiere"


@dataclass
class Incident:
    id: str
    type: str
    dimension: str
    value: str
    start: float
    end: float
    effect: dict[str, float | str] = field(default_factory=dict)
    description: str = ""

    def label(self) -> dict[str, object]:
        return asdict(self)

    def severity_at(self, t: float) -> float:
        """0 outside the incident, 1 inside; a drift ramps linearly from 0 to 1 over its span."""
        if not self.start <= t < self.end:
            return 0.0
        if self.effect.get("ramp"):
            return (t - self.start) / (self.end - self.start)
        return 1.0


@dataclass
class Decoy:
    """A change that is *not* a degradation; an alert naming it is a false alert."""

    type: str
    dimension: str
    value: str
    start: float
    end: float
    description: str


def _busy_region(rng: random.Random, t_utc_h: float) -> str:
    """A region where it is day or evening at that time, so that an incident has viewers."""
    busy = [r.name for r in REGIONS if 10 <= (t_utc_h + r.utc_offset_h) % 24 <= 23]
    return rng.choice(busy or [r.name for r in REGIONS])


def _scope(kind: str, rng: random.Random, t_utc_h: float, top_titles: list[str]) -> tuple[str, str, dict, str]:
    """(dimension, value, effect, description) for one incident type, drawn with enough traffic."""
    region = _busy_region(rng, t_utc_h)
    if kind == "isp_collapse":
        isp = rng.choice([i.name for i in ISPS[region]][:2])
        return "isp*region", f"{isp}*{region}", {"tput_factor": 0.12}, f"{isp} throughput collapse in {region}"
    if kind == "cdn_region_congestion":
        cdn = max(CDN_MIX[region], key=CDN_MIX[region].__getitem__)
        return "cdn*region", f"{cdn}*{region}", {"tput_factor": 0.3}, f"{cdn} congested in {region}"
    if kind == "model_crash":
        model = rng.choice(["SM-G991B", "QN90B", "iPhone14.2", "chrome", "AFTMM"])
        eff = {"vpf_hazard_per_min": 0.18, "reason": "app_crash"}
        return "device_model", model, eff, f"{model} crashes mid-stream after an update"
    if kind == "pathway_5xx":
        pathway = rng.choice(["akm-a", "cfr-a", "akm-b"])
        eff = {"vsf_prob": 0.3, "vpf_hazard_per_min": 0.04, "errors_per_chunk": 0.3, "reason": "network_error"}
        return "pathway", pathway, eff, f"pathway {pathway} serving 5xx"
    if kind == "rendition_corrupt":
        title = rng.choice(top_titles[:4])
        eff = {"rendition": "1080p", "vpf_hazard_per_min": 0.8, "reason": "media_decode_error"}
        return "title*rendition", f"{title}*1080p", eff, f"{title} 1080p rendition corrupt"
    if kind == "drm_slow":
        cls = rng.choice(["tv", "stb", "mobile", "web"])
        eff = {"startup_add_s": 6.0, "vsf_prob": 0.06, "reason": "drm_license_error"}
        return "device_class", cls, eff, f"DRM licence slowdown for {cls}"
    if kind == "region_cap":
        return "region", region, {"cap_kbps": 750.0}, f"{region} capped to 480p"
    if kind == "edge_drift":
        edge = rng.choice(next(r.edges for r in REGIONS if r.name == region)[:2])
        return "edge", edge, {"startup_add_s": 6.0, "ramp": 1.0}, f"startup drifting up on {edge}"
    if kind == "live_latency":
        channel = rng.choice(LIVE_CHANNELS[:3])
        return "title", channel, {"latency_add_s": 30.0}, f"live latency blow-up on {channel}"
    if kind == "app_start_crash":
        cls = rng.choice(["tv", "stb", "mobile"])
        eff = {"rollout_share": 0.35, "vsf_prob": 0.5, "reason": "app_crash"}
        value = f"{cls}*{NEW_APP_VERSION}"
        return "device_class*app_version", value, eff, f"app {NEW_APP_VERSION} on {cls} crashes on start"
    raise UsageError(f"unknown incident type {kind!r}; valid: {', '.join(INCIDENT_TYPES)}")


def schedule(cfg: WorldConfig, day: int, rng: random.Random, top_titles: list[str]) -> tuple[list[Incident], list[Decoy]]:
    """One incident per slot of the day, in random order; slots keep incidents from overlapping in time.

    Overlap would make "any alert overlapping the incident" ambiguous; a real day has overlaps, but
    the scorer's loose metric needs them apart to mean something.
    """
    kinds = list(INCIDENT_TYPES if cfg.incident_types is None else cfg.incident_types)
    for kind in kinds:
        if kind not in INCIDENT_TYPES:
            raise UsageError(f"unknown incident type {kind!r}; valid: {', '.join(INCIDENT_TYPES)}")
    rng.shuffle(kinds)
    day_start = cfg.day0_epoch_s + day * 86_400
    slot_s = 86_400 / max(len(kinds), 1)
    incidents: list[Incident] = []
    for i, kind in enumerate(kinds):
        if kind == "edge_drift":
            duration = min(3 * 3600.0, slot_s - 1800)
        else:
            duration = min(rng.uniform(35, 70) * 60, slot_s - 1800)
        start = day_start + i * slot_s + rng.uniform(600, max(600.0, slot_s - duration - 600))
        mid_utc_h = ((start - day_start + duration / 2) / 3600.0) % 24
        dim, value, effect, text = _scope(kind, rng, mid_utc_h, top_titles)
        incidents.append(Incident(f"d{day}-{i:02d}-{kind}", kind, dim, value, round(start, 1),
                                  round(start + duration, 1), effect, text))
    decoys: list[Decoy] = []
    if cfg.decoys:
        premiere = day_start + rng.uniform(2, 20) * 3600
        decoys.append(Decoy("premiere_flash_crowd", "title", PREMIERE_TITLE, premiere, premiere + 5400,
                            "a new title's premiere: a burst of arrivals, normal quality"))
        rollout = day_start + rng.uniform(6, 12) * 3600
        decoys.append(Decoy("app_rollout", "app_version", DECOY_APP_VERSION, rollout, day_start + 86_400,
                            f"app {DECOY_APP_VERSION} rolls out to mobile and tablet, no regression"))
        decoys.append(Decoy("nightly_trough", "region", "*", day_start, day_start + 86_400,
                            "every region's night: few sessions, noisy rates"))
    return incidents, decoys

