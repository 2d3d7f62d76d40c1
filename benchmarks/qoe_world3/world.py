"""The service this world simulates: "Kestrel", a streaming service of its own, not a copy of any other simulator.

Everything a session can be (its region, edge, ISP, CDN pathway, device, app, title) is declared here once, with
shares, so that the session model (``session.py``) and the incident schedule (``incidents.py``) draw from the same
catalogue. Names, cardinalities and shares were chosen for this world only (written from ``models/qoe/SCHEMA.md``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

DAY_S = 86400.0
EPOCH_DAY0 = 1772409600.0
"""2026-03-02 00:00 UTC: day ``d`` of this world starts ``d`` days later (a past date, so no clock calls it future)."""

DIURNAL_LOCAL = (
    0.30, 0.18, 0.11, 0.07, 0.06, 0.07, 0.12, 0.22, 0.28, 0.30, 0.32, 0.36,
    0.42, 0.44, 0.43, 0.45, 0.52, 0.62, 0.78, 0.92, 1.00, 0.97, 0.80, 0.52,
)
"""Relative session starts per local hour (night trough at 04:00, evening peak at 20:00), interpolated linearly."""


def diurnal(local_hour: float) -> float:
    """Relative start intensity at a local hour in [0, 24): the table above, linearly interpolated."""
    h = local_hour % 24.0
    i = int(h)
    f = h - i
    return DIURNAL_LOCAL[i] * (1.0 - f) + DIURNAL_LOCAL[(i + 1) % 24] * f


@dataclass(frozen=True)
class Isp:
    """An ISP as seen from one region: its AS numbers there (with shares), mobile or fixed, and its speed factor.

    Some ISPs hold two ASNs in a region (an acquisition, a legacy network), so an AS-scoped fault is not the same
    sessions as its ISP; two ISPs span two regions under one ASN, so an ``isp*region`` fault is not an ASN's.
    """

    name: str
    asns: tuple[tuple[str, float], ...]
    mobile: bool
    speed: float
    share: float


@dataclass(frozen=True)
class Region:
    """A viewer region: UTC offset (hours) for its diurnal curve, share of the service's viewers, cities, ISPs."""

    name: str
    utc_offset_h: float
    share: float
    cities: tuple[str, ...]
    isps: tuple[Isp, ...]
    cdns: tuple[tuple[str, float], ...]


REGIONS: tuple[Region, ...] = (
    Region("boreal", 1.0, 0.21, ("osl", "trd"), (
        Isp("fjordnet", (("64601", 0.6), ("64603", 0.4)), False, 1.15, 0.45),
        Isp("skylane", (("64620", 1.0),), False, 0.95, 0.30),
        Isp("polarcell", (("64602", 1.0),), True, 1.0, 1.0)), (("larch", 0.45), ("birch", 0.25), ("koc", 0.30))),
    Region("lagoon", 8.0, 0.17, ("sgn", "mnl", "cgk"), (
        Isp("tidalnet", (("64611", 0.7), ("64614", 0.3)), False, 0.9, 0.50),
        Isp("junkline", (("64612", 1.0),), False, 0.75, 0.50),
        Isp("reefmobile", (("64613", 1.0),), True, 0.85, 1.0)), (("larch", 0.55), ("koc", 0.45))),
    Region("mesa", -7.0, 0.13, ("phx", "den"), (
        Isp("meshcom", (("64630", 1.0),), False, 1.0, 0.55), Isp("canyonfiber", (("64632", 1.0),), False, 1.3, 0.45),
        Isp("cactuscell", (("64633", 1.0),), True, 1.0, 1.0)), (("larch", 0.5), ("birch", 0.5))),
    Region("tidewater", -5.0, 0.21, ("bos", "atl", "yyz"), (
        Isp("meshcom", (("64630", 1.0),), False, 1.0, 0.50),
        Isp("harborband", (("64640", 0.5), ("64642", 0.5)), False, 1.1, 0.50),
        Isp("gullwireless", (("64641", 0.6), ("64643", 0.4)), True, 1.05, 1.0)),
        (("larch", 0.35), ("birch", 0.35), ("koc", 0.30))),
    Region("savanna", 3.0, 0.10, ("nbo", "dar"), (
        Isp("skylane", (("64620", 1.0),), False, 0.8, 0.40), Isp("baobabnet", (("64650", 1.0),), False, 0.7, 0.60),
        Isp("acaciamobile", (("64651", 1.0),), True, 0.7, 1.0)), (("larch", 0.6), ("birch", 0.4))),
    Region("coral", 10.0, 0.08, ("bne",), (
        Isp("atollnet", (("64660", 1.0),), False, 1.05, 1.0), Isp("lagunacell", (("64661", 1.0),), True, 0.95, 1.0)),
        (("birch", 0.7), ("larch", 0.3))),
    Region("steppe", 6.0, 0.10, ("ala", "tse"), (
        Isp("yurtlink", (("64670", 1.0),), False, 0.85, 0.55), Isp("tengrinet", (("64671", 1.0),), False, 0.9, 0.45),
        Isp("windcell", (("64672", 1.0),), True, 0.8, 1.0)), (("larch", 0.7), ("birch", 0.3))),
)

CDN_CODES: dict[str, str] = {"larch": "lr", "birch": "bi", "koc": "ko"}
PATHWAYS: dict[str, tuple[tuple[str, float], ...]] = {
    "larch": (("larch-east", 0.5), ("larch-west", 0.5)),
    "birch": (("birch-main", 1.0),),
    "koc": (("koc-core", 0.7), ("koc-spill", 0.3)),
}
"""Content-steering pathways per CDN (HLS ``PATHWAY-ID``): larch steers between two, our own CDN spills to a second."""

PATHWAY_TTFB_FACTOR: dict[str, float] = {
    "larch-east": 1.0, "larch-west": 1.05, "birch-main": 1.1, "koc-core": 0.9, "koc-spill": 1.15}
"""Baseline startup multiplier per pathway (time to first byte differs a little between them)."""


def edge_name(cdn: str, city: str, slot: int) -> str:
    """Edge naming scheme of this world: ``<cdn code>-<city>-<n>``, e.g. ``lr-osl-2``."""
    return f"{CDN_CODES[cdn]}-{city}-{slot}"


@dataclass(frozen=True)
class DeviceModel:
    """A device model with its OS choices and the players its app ships, each with a share."""

    name: str
    share: float
    oses: tuple[tuple[str, float], ...]
    players: tuple[tuple[str, float], ...]
    max_height: int


@dataclass(frozen=True)
class DeviceClass:
    """A device class: share, startup median (s), heartbeat period (s), connections, app versions, models."""

    name: str
    share: float
    startup_median_s: float
    beat_s: float
    connections: tuple[tuple[str, float], ...]
    apps: tuple[tuple[str, float], ...]
    models: tuple[DeviceModel, ...]


_ANDROID_PLAYERS = (("exo-2.19.1", 0.55), ("media3-1.4.1", 0.45))
DEVICE_CLASSES: tuple[DeviceClass, ...] = (
    DeviceClass("tv", 0.30, 2.4, 20.0, (("wifi", 0.55), ("ethernet", 0.45)), (("3.9.4", 1.0),), (
        DeviceModel("Brava-55Q", 0.30, (("tizenx-7", 0.6), ("tizenx-8", 0.4)), (("kplay-tv-4.2.1", 1.0),), 2160),
        DeviceModel("LumaTV-A2", 0.25, (("webos-23", 1.0),), (("kplay-tv-4.2.1", 0.5), ("kplay-tv-4.3.0", 0.5)), 2160),
        DeviceModel("Qeon-OLED-9", 0.20, (("androidtv-12", 1.0),), (("media3-1.4.1", 1.0),), 2160),
        DeviceModel("Qeon-LED-5", 0.25, (("androidtv-11", 0.7), ("androidtv-12", 0.3)), (("exo-2.19.1", 1.0),), 1080),
    )),
    DeviceClass("mobile", 0.33, 1.7, 15.0, (("wifi", 0.55), ("4g", 0.30), ("5g", 0.15)),
                (("7.3.2", 0.55), ("7.4.0", 0.45)), (
        DeviceModel("Galaxia-S24", 0.20, (("droid-14", 0.5), ("droid-15", 0.5)), _ANDROID_PLAYERS, 1080),
        DeviceModel("Galaxia-A15", 0.18, (("droid-14", 0.8), ("droid-15", 0.2)), _ANDROID_PLAYERS, 720),
        DeviceModel("Pixelon-8", 0.10, (("droid-15", 1.0),), _ANDROID_PLAYERS, 1080),
        DeviceModel("Moto-G84", 0.08, (("droid-14", 1.0),), _ANDROID_PLAYERS, 1080),
        DeviceModel("iPhon-15", 0.24, (("ios-18", 0.8), ("ios-17", 0.2)), (("avkit-18", 1.0),), 1080),
        DeviceModel("iPhon-13", 0.20, (("ios-17", 0.5), ("ios-18", 0.5)), (("avkit-17", 0.4), ("avkit-18", 0.6)), 1080),
    )),
    DeviceClass("tablet", 0.10, 1.9, 15.0, (("wifi", 0.9), ("4g", 0.1)), (("7.3.2", 0.5), ("7.4.0", 0.5)), (
        DeviceModel("iPad-Air5", 0.50, (("ipados-17", 0.4), ("ipados-18", 0.6)), (("avkit-18", 1.0),), 1440),
        DeviceModel("Galaxia-Tab-S9", 0.30, (("droid-14", 1.0),), _ANDROID_PLAYERS, 1440),
        DeviceModel("Fire-HD10", 0.20, (("fireos-8", 1.0),), (("exo-2.19.1", 1.0),), 1080),
    )),
    DeviceClass("web", 0.15, 2.0, 15.0, (("wifi", 0.6), ("ethernet", 0.4)), (("w2026.11", 0.35), ("w2026.12", 0.65)), (
        DeviceModel("chrome-131", 0.55, (("windows-11", 0.6), ("windows-10", 0.25), ("macos-15", 0.15)),
                    (("hlsjs-1.5.17", 0.6), ("shaka-4.11.2", 0.4)), 1080),
        DeviceModel("safari-18", 0.25, (("macos-15", 1.0),), (("hlsjs-1.5.17", 1.0),), 1080),
        DeviceModel("firefox-133", 0.20, (("windows-11", 0.7), ("windows-10", 0.3)), (("shaka-4.11.2", 1.0),), 1080),
    )),
    DeviceClass("console", 0.05, 2.8, 30.0, (("wifi", 0.5), ("ethernet", 0.5)), (("c5.1.0", 1.0),), (
        DeviceModel("PlayBox-5", 0.6, (("pbos-9", 1.0),), (("kplay-console-2.8.0", 1.0),), 2160),
        DeviceModel("XStation-X", 0.4, (("xsos-10", 1.0),), (("kplay-console-2.8.0", 1.0),), 2160),
    )),
    DeviceClass("stb", 0.07, 3.2, 30.0, (("ethernet", 0.8), ("wifi", 0.2)), (("s12.4", 0.4), ("s12.5", 0.6)), (
        DeviceModel("Kestrel-Box-2", 0.45, (("kbox-os-3.1", 1.0),), (("kplay-stb-1.9.4", 1.0),), 1080),
        DeviceModel("Kestrel-Box-3", 0.55, (("kbox-os-4.0", 1.0),), (("kplay-stb-1.9.4", 1.0),), 2160),
    )),
)
DEVICE_CLASS_BY_NAME: dict[str, DeviceClass] = {c.name: c for c in DEVICE_CLASSES}

CONNECTION_SPEED: dict[str, float] = {"ethernet": 10.0, "wifi": 6.0, "5g": 4.5, "4g": 2.2}
"""Multiplier on the 3G/HSDPA trace throughput (mean about 1.3 Mbit/s) per connection type."""

LADDER: tuple[tuple[int, int], ...] = (
    (234, 290), (360, 650), (432, 1100), (540, 1800), (720, 3000), (1080, 5200), (1440, 8400), (2160, 14500))
"""(height px, kbit/s) rungs of Kestrel's per-title ladder (VOD and live share it)."""

SEGMENT_S = 4.0
ROLLOUT_APP = ("tv", "3.10.0")
"""The TV app version that rolls out during the day without a regression (a decoy)."""
DEBUT_MODEL = DeviceModel("Brava-65Q-2026", 1.0, (("tizenx-8", 1.0),), (("kplay-tv-4.3.0", 1.0),), 2160)
"""A TV model that appears mid-day (a decoy): new purchases show up, nothing is wrong with it."""


def weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...] | list[tuple[str, float]]) -> str:
    """One name from ``(name, weight)`` pairs."""
    total = sum(w for _, w in pairs)
    x = rng.random() * total
    for name, w in pairs:
        x -= w
        if x <= 0:
            return name
    return pairs[-1][0]


@dataclass
class Catalogue:
    """VOD titles with a heavy-tailed popularity (``1/(rank+6)``) and live channels; lengths in seconds."""

    vod_ids: list[str]
    vod_cum: list[float]
    vod_len_s: dict[str, float]
    live: tuple[tuple[str, float], ...]
    extra: dict[str, float] = field(default_factory=dict)

    def pick_vod(self, rng: random.Random) -> str:
        """A title by popularity (bisect on the cumulative weights)."""
        x = rng.random() * self.vod_cum[-1]
        lo, hi = 0, len(self.vod_cum) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.vod_cum[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return self.vod_ids[lo]

    def length_s(self, title: str) -> float:
        return self.vod_len_s.get(title) or self.extra.get(title, 3600.0)


def build_catalogue(seed: int, n_vod: int = 3200) -> Catalogue:
    """The title catalogue of one seed; ids look like ``k-000417`` (episodes) or ``kf-0123`` (films)."""
    rng = random.Random(f"kestrel-catalogue:{seed}")
    ids: list[str] = []
    lens: dict[str, float] = {}
    cum: list[float] = []
    total = 0.0
    order = list(range(n_vod))
    rng.shuffle(order)
    for rank, k in enumerate(order):
        film = k % 5 == 0
        title = f"kf-{k:04d}" if film else f"k-{k:06d}"
        lens[title] = rng.uniform(85, 150) * 60 if film else rng.choice((22, 24, 30, 45, 52, 58)) * 60.0
        total += 1.0 / (rank + 6.0)
        ids.append(title)
        cum.append(total)
    live = (("live-news1", 0.28), ("live-news2", 0.12), ("live-kids", 0.15), ("live-music", 0.10),
            ("live-docs", 0.08), ("live-sport2", 0.12), ("live-sport1", 0.15))
    return Catalogue(ids, cum, lens, live)


def zipf_top(catalogue: Catalogue, n: int) -> list[str]:
    """The ``n`` most popular VOD titles (rank order)."""
    return catalogue.vod_ids[:n]


def local_hour(ts: float, region: Region) -> float:
    """Local hour of day in a region at epoch ``ts``."""
    return ((ts / 3600.0) + region.utc_offset_h) % 24.0


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    """A log-normal draw given its median (the natural parameter for times and durations)."""
    return median * math.exp(rng.gauss(0.0, sigma))
