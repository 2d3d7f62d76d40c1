"""The day's schedule: ten incident types and four slotted decoys, one per time slot, never overlapping.

Each incident is labelled with the one scope (a SCHEMA.md dimension or pair, and its value) an ideal detector
should name; its effect sizes are drawn per seed from moderate ranges (some plainly visible, some near the noise)
and written into the label, so a reader of the score can see how hard each one was. Decoys change *traffic*
(who watches what, through which path) but never quality, so an alert on them is a false alert.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from benchmarks.qoe_world3.world import DAY_S, DEBUT_MODEL, REGIONS, ROLLOUT_APP, Catalogue, zipf_top

FIRST_SLOT_S = 2400.0
"""The first 40 minutes of the day hold no incident: every detector needs some history."""
GRACE_S = 600.0
"""Gap kept after each incident's end before the next slot's item may start (the scorer's default grace)."""

INCIDENT_TYPES: tuple[str, ...] = (
    "player_stall_regression", "pathway_slow_ttfb", "os_update_ebvs", "asn_packet_loss", "title_manifest_broken",
    "model_quality_stuck", "live_latency_creep", "region_partial_outage", "app_crash_class", "isp_region_congestion",
)
SLOTTED_DECOYS: tuple[str, ...] = (
    "premiere_flash_crowd", "sports_live_spike", "pathway_steering_shift", "device_model_debut")

_DIMENSION_KEYS = {"title": "title_id"}
"""SCHEMA.md's dimension ``title`` is the event field ``title_id``; every other dimension is its own field."""


@dataclass
class Incident:
    """A labelled fault: scope (SCHEMA.md dimension/value), window, type and the effect sizes it applies."""

    id: str
    type: str
    dimension: str
    value: str
    start: float
    end: float
    effect: dict[str, float] = field(default_factory=dict)
    description: str = ""

    def matches(self, attrs: dict[str, str]) -> bool:
        """Whether a session with these dimension values is inside the scope (pairs need both parts)."""
        dims = self.dimension.split("*")
        values = self.value.split("*")
        return all(str(attrs[_DIMENSION_KEYS.get(d, d)]) == v for d, v in zip(dims, values, strict=True))

    def label(self) -> dict[str, object]:
        """The label record (score.py reads id, type, dimension, value, start, end)."""
        return asdict(self)


@dataclass
class Schedule:
    """A day's incidents and decoys, plus the decoys' traffic parameters the generator needs."""

    incidents: list[Incident]
    decoys: list[Incident]

    def decoy(self, kind: str) -> Incident:
        return next(d for d in self.decoys if d.type == kind)


def _duration_min(rng: random.Random, kind: str) -> float:
    ranges = {
        "live_latency_creep": (45, 80), "region_partial_outage": (20, 30), "title_manifest_broken": (30, 60),
        "pathway_slow_ttfb": (25, 60), "premiere_flash_crowd": (60, 75), "sports_live_spike": (75, 85),
        "pathway_steering_shift": (45, 70), "device_model_debut": (120, 120),
    }
    lo, hi = ranges.get(kind, (30, 75))
    return rng.uniform(lo, hi)


def _incident(rng: random.Random, kind: str, start: float, end: float, catalogue: Catalogue) -> Incident:
    """Scope and effect sizes of one incident, drawn from the candidates with enough traffic to be seen."""
    u = rng.uniform
    if kind == "player_stall_regression":
        scope = ("player_version", rng.choice(["exo-2.19.1", "media3-1.4.1", "avkit-18", "hlsjs-1.5.17",
                                                 "kplay-tv-4.2.1"]))
        effect = {"stall_p_cellular": u(0.25, 0.45), "stall_p_other": u(0.05, 0.12), "stall_median_s": u(2.5, 5.0)}
        text = "a player release's buffer logic stalls: extra stalls per beat, worst on 4g/5g, no failures"
    elif kind == "pathway_slow_ttfb":
        scope = ("pathway", rng.choice(["larch-east", "larch-west", "birch-main", "koc-core"]))
        effect = {"startup_factor": u(1.8, 3.0)}
        text = "slow time to first byte on one steering pathway: startup multiplied; impatient viewers leave"
    elif kind == "os_update_ebvs":
        scope = ("os", rng.choice(["droid-15", "ios-18", "webos-23", "tizenx-8", "androidtv-12", "windows-11"]))
        effect = {"ebvs_p": u(0.10, 0.25)}
        text = "an OS update makes the app hang on its splash screen: extra exits before video start"
    elif kind == "asn_packet_loss":
        scope = ("asn", rng.choice(["64601", "64603", "64640", "64642", "64641", "64611"]))
        effect = {"throughput_factor": u(0.4, 0.6), "stall_p": u(0.08, 0.18), "stall_median_s": u(2.0, 4.0)}
        text = "packet loss in one AS (of a multi-AS ISP): lower throughput and stalls, no failures"
    elif kind == "title_manifest_broken":
        scope = ("title", rng.choice(zipf_top(catalogue, 3)))
        effect = {"vsf_p": u(0.6, 0.9)}
        text = "a popular title's re-packaged manifest fails to parse: start failures on that title only"
    elif kind == "model_quality_stuck":
        scope = ("device_model", rng.choice(["Brava-55Q", "LumaTV-A2", "Galaxia-S24", "iPhon-15", "chrome-131",
                                              "Kestrel-Box-3"]))
        effect = {"max_height": float(rng.choice([432, 540]))}
        text = "a device model's decoder profile check fails: quality stuck at a low rung, nothing else"
    elif kind == "live_latency_creep":
        scope = ("title", rng.choice(["live-news1", "live-kids", "live-sport2"]))
        effect = {"step_s": u(6.0, 10.0), "step_every_s": u(4.0, 7.0) * 60}
        text = "an upstream packager falls behind on one live channel: every session's latency steps up together"
    elif kind == "region_partial_outage":
        scope = ("region", rng.choice(["boreal", "tidewater", "lagoon", "mesa"]))
        effect = {"vsf_p": u(0.25, 0.45), "vpf_p_beat": u(0.015, 0.04), "throughput_factor": 0.6}
        text = "a regional transit outage: part of the starts fail, some playing sessions drop, the rest slow down"
    elif kind == "app_crash_class":
        scope = ("device_class*app_version", rng.choice(["tablet*7.4.0", "tablet*7.3.2", "mobile*7.4.0"]))
        effect = {"vpf_per_min": u(0.04, 0.10)}
        text = "an app version crashes mid-stream on one device class only (the same version runs elsewhere)"
    elif kind == "isp_region_congestion":
        scope = ("isp*region", rng.choice(["skylane*boreal", "skylane*savanna", "meshcom*mesa", "meshcom*tidewater"]))
        effect = {"throughput_factor": u(0.3, 0.5)}
        text = "an ISP's peering in one of its regions congests: lower bitrate and some stalls there only"
    else:
        raise ValueError(f"unknown incident type {kind!r}; valid: {', '.join(INCIDENT_TYPES)}")
    return Incident("", kind, scope[0], scope[1], start, end, effect, text)


def _decoy(rng: random.Random, kind: str, start: float, end: float) -> Incident:
    if kind == "premiere_flash_crowd":
        return Incident("", kind, "title", "kf-premiere", start, end, {"extra_share": 0.06},
                        "a film premieres: a flash crowd on a title that did not exist before, healthy")
    if kind == "sports_live_spike":
        return Incident("", kind, "title", "live-sport1", start, end, {"extra_share": 0.05},
                        "a match on the sports channel: a spike of long live sessions, healthy")
    if kind == "pathway_steering_shift":
        target = rng.choice(["larch-west", "larch-east", "koc-spill"])
        return Incident("", kind, "pathway", target, start, end, {"target_share": 0.9},
                        "content steering moves most of a CDN's sessions onto one pathway, healthy")
    if kind == "device_model_debut":
        return Incident("", kind, "device_model", DEBUT_MODEL.name, start, end, {"tv_share": 0.15},
                        "a new TV model appears (launch day) and stays for the rest of the day, healthy")
    raise ValueError(f"unknown decoy type {kind!r}")


def build_schedule(seed: int, day: int, day_start: float, catalogue: Catalogue) -> Schedule:
    """Shuffle the ten incident types and four slotted decoys into fourteen equal slots after the first 40 min.

    Each item starts a few minutes into its slot and ends at least ``GRACE_S`` before the slot ends, so neither
    incidents nor slotted decoys overlap. Two decoys span the day: the TV app rollout and one region's night trough.
    """
    rng = random.Random(f"kestrel-schedule:{seed}:{day}")
    items = [("incident", k) for k in INCIDENT_TYPES] + [("decoy", k) for k in SLOTTED_DECOYS]
    rng.shuffle(items)
    slot_s = (DAY_S - FIRST_SLOT_S) / len(items)
    incidents: list[Incident] = []
    decoys: list[Incident] = []
    for n, (what, kind) in enumerate(items):
        slot_start = day_start + FIRST_SLOT_S + n * slot_s
        dur = min(_duration_min(rng, kind) * 60.0, slot_s - GRACE_S - 300.0)
        start = slot_start + rng.uniform(120.0, slot_s - GRACE_S - dur)
        end = start + dur
        item = _incident(rng, kind, start, end, catalogue) if what == "incident" else _decoy(rng, kind, start, end)
        item.start, item.end = round(start, 3), round(end, 3)
        item.id = f"s{seed}d{day}-{len(incidents) if what == 'incident' else len(decoys)}-{kind}"
        (incidents if what == "incident" else decoys).append(item)
    decoys.append(Incident(f"s{seed}d{day}-{len(decoys)}-app_rollout", "app_rollout", "app_version", ROLLOUT_APP[1],
                           day_start, day_start + DAY_S, {"final_share": 0.5},
                           "the TV app's next version rolls out from 0 to 50% of TV sessions, healthy"))
    region = rng.choice(REGIONS)
    night_start = day_start + ((1.0 - region.utc_offset_h) % 24.0) * 3600.0
    night_end = min(night_start + 5 * 3600.0, day_start + DAY_S)
    decoys.append(Incident(f"s{seed}d{day}-{len(decoys)}-night_trough", "night_trough", "region", region.name,
                           night_start, night_end, {}, "a region's local 01:00-06:00: few sessions, healthy"))
    return Schedule(incidents, decoys)
