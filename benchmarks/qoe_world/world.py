"""The world's fixed population: regions, edges, ISPs, CDNs, devices, apps and the catalogue.

The entity tables are named constants on purpose: they *define* this benchmark world (like a
published simulator's link parameters), and changing them changes every reported number. What a
run may vary (size, catalogue length, seed) is in :class:`WorldConfig`.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from itertools import accumulate


@dataclass(frozen=True)
class Region:
    name: str
    utc_offset_h: float
    share: float
    edges: tuple[str, ...]


@dataclass(frozen=True)
class Isp:
    name: str
    asn: int
    mobile: bool
    share: float
    tput_factor: float
    """Multiplies the real trace's throughput: fixed lines are faster than the 3G traces."""


@dataclass(frozen=True)
class DeviceModel:
    device_class: str
    model: str
    os: str
    player: str
    share: float
    startup_median_s: float
    heartbeat_s: float
    max_height: int


# Six regions in six time zones; shares are of the day's sessions.
REGIONS: tuple[Region, ...] = (
    Region("us-east", -5, 0.24, ("use-iad1", "use-iad2", "use-atl1", "use-nyc1")),
    Region("us-west", -8, 0.13, ("usw-sjc1", "usw-lax1", "usw-sea1")),
    Region("br-south", -3, 0.12, ("brs-gru1", "brs-gru2", "brs-rio1")),
    Region("eu-central", 1, 0.22, ("euc-fra1", "euc-fra2", "euc-ams1", "euc-waw1")),
    Region("in-west", 5.5, 0.14, ("inw-bom1", "inw-bom2", "inw-del1")),
    Region("ap-southeast", 8, 0.15, ("aps-sin1", "aps-sin2", "aps-jkt1", "aps-syd1")),
)

# Some ISPs serve two regions so that `isp*region` is a real question, not a synonym of `isp`.
ISPS: dict[str, tuple[Isp, ...]] = {
    "us-east": (
        Isp("comcast", 7922, False, 0.40, 4.0), Isp("verizon-fios", 701, False, 0.25, 5.0),
        Isp("charter", 20115, False, 0.35, 3.5), Isp("tmobile-us", 21928, True, 0.55, 1.4),
        Isp("att-mobility", 20057, True, 0.45, 1.2),
    ),
    "us-west": (
        Isp("comcast", 7922, False, 0.55, 4.0), Isp("cox", 22773, False, 0.45, 3.0),
        Isp("tmobile-us", 21928, True, 0.5, 1.4), Isp("verizon-wireless", 22394, True, 0.5, 1.3),
    ),
    "br-south": (
        Isp("vivo", 26599, False, 0.5, 2.5), Isp("claro-br", 28573, False, 0.5, 2.2),
        Isp("tim-br", 26615, True, 1.0, 0.9),
    ),
    "eu-central": (
        Isp("dtag", 3320, False, 0.45, 3.5), Isp("vodafone-de", 3209, False, 0.35, 3.0),
        Isp("orange-pl", 5617, False, 0.20, 2.8), Isp("o2-de", 6805, True, 1.0, 1.2),
    ),
    "in-west": (
        Isp("airtel", 9498, False, 0.5, 2.0), Isp("act", 24309, False, 0.5, 2.6),
        Isp("jio", 55836, True, 1.0, 1.0),
    ),
    "ap-southeast": (
        Isp("singtel", 7473, False, 0.4, 4.0), Isp("telstra", 1221, False, 0.6, 3.0),
        Isp("telkomsel", 23693, True, 1.0, 1.0),
    ),
}

# CDN -> content-steering pathways; per-region CDN mix.
CDN_PATHWAYS: dict[str, tuple[str, ...]] = {
    "akamai": ("akm-a", "akm-b"),
    "fastly": ("fst-a",),
    "cloudfront": ("cfr-a", "cfr-b"),
    "ownedge": ("own-a",),
}
CDN_MIX: dict[str, dict[str, float]] = {
    "us-east": {"akamai": 0.4, "fastly": 0.2, "cloudfront": 0.2, "ownedge": 0.2},
    "us-west": {"akamai": 0.3, "fastly": 0.3, "cloudfront": 0.2, "ownedge": 0.2},
    "br-south": {"akamai": 0.5, "cloudfront": 0.5},
    "eu-central": {"akamai": 0.35, "fastly": 0.25, "cloudfront": 0.15, "ownedge": 0.25},
    "in-west": {"akamai": 0.6, "cloudfront": 0.4},
    "ap-southeast": {"akamai": 0.45, "cloudfront": 0.35, "fastly": 0.2},
}

DEVICES: tuple[DeviceModel, ...] = (
    DeviceModel("tv", "QN90B", "tizen-7.0", "shaka-4.10.0", 0.09, 1.9, 30, 2160),
    DeviceModel("tv", "OLED55C2", "webos-22", "shaka-4.10.0", 0.07, 2.1, 30, 2160),
    DeviceModel("tv", "BRAVIA-XR", "android-tv-12", "media3-1.3.1", 0.04, 2.3, 30, 2160),
    DeviceModel("mobile", "SM-G991B", "android-14", "media3-1.3.1", 0.09, 1.3, 15, 1080),
    DeviceModel("mobile", "Pixel-7", "android-14", "media3-1.3.1", 0.05, 1.2, 15, 1080),
    DeviceModel("mobile", "Redmi-Note-12", "android-13", "media3-1.2.1", 0.06, 1.6, 15, 1080),
    DeviceModel("mobile", "iPhone14.2", "ios-17", "avplayer-17", 0.08, 1.1, 15, 1080),
    DeviceModel("mobile", "iPhone15.3", "ios-17", "avplayer-17", 0.06, 1.0, 15, 1080),
    DeviceModel("tablet", "iPad13.1", "ipados-17", "avplayer-17", 0.05, 1.2, 20, 1080),
    DeviceModel("tablet", "SM-X700", "android-13", "media3-1.2.1", 0.03, 1.5, 20, 1080),
    DeviceModel("desktop", "win-app", "windows-11", "shaka-4.10.0", 0.03, 1.6, 20, 1080),
    DeviceModel("desktop", "mac-app", "macos-14", "avplayer-17", 0.02, 1.4, 20, 1080),
    DeviceModel("web", "chrome", "windows-11", "hls.js-1.5.15", 0.08, 1.7, 20, 1080),
    DeviceModel("web", "safari", "macos-14", "avplayer-17", 0.03, 1.5, 20, 1080),
    DeviceModel("web", "firefox", "linux", "shaka-4.10.0", 0.02, 1.9, 20, 1080),
    DeviceModel("console", "PS5", "ps5-os", "shaka-4.10.0", 0.04, 1.8, 30, 2160),
    DeviceModel("console", "XboxSeriesX", "xbox-os", "media3-1.3.1", 0.03, 1.9, 30, 2160),
    DeviceModel("stb", "AFTMM", "fireos-7", "media3-1.3.1", 0.06, 2.2, 30, 2160),
    DeviceModel("stb", "AppleTV11.1", "tvos-17", "avplayer-17", 0.04, 1.6, 30, 2160),
    DeviceModel("stb", "Roku-Ultra", "roku-12", "roku-12.5", 0.04, 2.4, 30, 2160),
)
DEVICE_CLASSES: tuple[str, ...] = tuple(dict.fromkeys(d.device_class for d in DEVICES))

BASE_APP_VERSION = "5.2.0"
WEB_APP_VERSION = "web-2026.11"

# (kbps, height, label): a common per-title ABR ladder.
LADDER: tuple[tuple[int, int, str], ...] = (
    (235, 240, "240p"), (375, 360, "360p"), (750, 480, "480p"), (1750, 720, "720p"),
    (3000, 1080, "1080p"), (4300, 1080, "1080p-hi"), (8000, 2160, "2160p"), (16000, 2160, "2160p-hi"),
)

LIVE_CHANNELS: tuple[str, ...] = (
    "ch-news24", "ch-sports1", "ch-sports2", "ch-kids", "ch-music", "ch-docs", "ch-local", "ch-movies",
)


@dataclass(frozen=True)
class WorldConfig:
    """What a run may vary; everything else is the fixed world above."""

    sessions_per_day: int = 20_000
    titles: int = 600
    zipf_s: float = 1.05
    live_share: float = 0.15
    day0_epoch_s: float = 1_796_083_200.0  # 2026-12-01T00:00:00Z
    incident_types: tuple[str, ...] | None = None
    """None: every type in :data:`benchmarks.qoe_world.incidents.INCIDENT_TYPES`; empty: no incident."""
    decoys: bool = True
    extra: dict[str, float] = field(default_factory=dict)


def cumulative(weights: list[float]) -> list[float]:
    """Cumulative weights for :func:`pick` (``random.choices`` recomputes them on every call)."""
    return list(accumulate(weights))


def pick(rng: random.Random, items: tuple | list, cum: list[float]):  # type: ignore[no-untyped-def]
    return items[bisect.bisect_right(cum, rng.random() * cum[-1])]


def diurnal(local_hour: float) -> float:
    """Relative arrival rate by local hour: a deep night trough, a lunch bump and an evening peak."""
    evening = math.exp(-((local_hour - 21.0) ** 2) / (2 * 2.5**2)) + math.exp(-((local_hour + 3.0) ** 2) / (2 * 2.5**2))
    lunch = 0.35 * math.exp(-((local_hour - 13.0) ** 2) / (2 * 2.5**2))
    return 0.06 + lunch + evening


@dataclass(frozen=True)
class Title:
    title_id: str
    duration_s: float
    live: bool


def catalogue(cfg: WorldConfig, rng: random.Random) -> tuple[list[Title], list[float]]:
    """VOD titles with Zipf popularity (rank 1 most popular), durations of episodes and films."""
    titles = []
    for rank in range(1, cfg.titles + 1):
        film = rng.random() < 0.4
        duration = rng.uniform(80, 150) * 60 if film else rng.uniform(22, 60) * 60
        titles.append(Title(f"m{rank:05d}", duration, False))
    weights = [1.0 / rank**cfg.zipf_s for rank in range(1, cfg.titles + 1)]
    return titles, cumulative(weights)
