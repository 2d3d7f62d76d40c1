"""A schema-v2 world: sessions over every SCHEMA.md dimension, the issue-19 incident types, and decoys.

Why a second generator beside :mod:`streamlab.training.qoe.simulate`: that one plays sessions through
the ABR library and only knows region/edge/title/device; tuning the empirical-Bayes detector
(:mod:`streamlab.models.qoe.eb`) needs ISPs, CDNs, app versions, renditions and the incidents that live
on them. This world is session-level (a throughput draw per session, the ladder rung it affords),
cheap enough to make a day of ~1M events in seconds.

Incident kinds (``KINDS``): ``device_crash`` (mid-stream playback failures on one device class),
``region_quality_cap`` (a region held to the two lowest rungs: bitrate down, no stalls),
``drm_slowdown`` (startup +6-9 s for one device class), ``isp_degradation`` (an ISP's throughput
x0.2, in every region), ``app_start_crash`` (one device class x app version failing to start),
``edge_collapse``, ``rendition_broken`` (one title x rendition failing mid-stream), ``cdn_region_errors``
and ``startup_drift`` (a region's startup creeping up over 90 minutes). Decoys, never labelled: a
flash crowd on one title, the diurnal trough and an app version rolling out.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streamlab.models.qoe.labels import Incident

START_EPOCH_S = 1767571200.0
REGIONS = {"north": 1.3, "west": 1.1, "east": 1.0, "south": 0.75}
ISPS = {"north": ["fjordnet", "aurora"], "west": ["atlantic", "celtel"], "east": ["steppe", "volga"], "south": ["delta", "coral"]}
NATIONAL_ISP = "omnicom"
CDNS = ("cdn-a", "cdn-b")
DEVICES = {  # class: (share, max height, os list, models, app versions (old, new))
    "tv": (0.28, 1080, ["tizen-7", "webos-23"], ["QN90", "OLED55"], ("4.1.0", "4.2.0")),
    "mobile": (0.30, 720, ["android-14", "ios-17"], ["SM-G991B", "iPhone14"], ("5.0.3", "5.1.0")),
    "tablet": (0.10, 1080, ["ipados-17", "android-13"], ["iPad10", "TabS8"], ("5.0.3", "5.1.0")),
    "desktop": (0.20, 1080, ["windows-11", "macos-14"], ["pc", "mac"], ("web-88", "web-89")),
    "console": (0.06, 1080, ["ps5", "xbox"], ["PS5", "XSX"], ("2.3.0", "2.4.0")),
    "stb": (0.06, 720, ["android-tv-11"], ["BOX4K"], ("1.9.2", "1.9.3")),
}
LADDER = ((400, 240), (800, 360), (1600, 540), (3000, 720), (5000, 1080))
KINDS = ("device_crash", "region_quality_cap", "drm_slowdown", "isp_degradation", "app_start_crash", "edge_collapse",
         "rendition_broken", "cdn_region_errors", "startup_drift")
HEARTBEAT_S = 20.0


@dataclass
class World:
    """One generated day: events in time order (v2 dicts) and the labelled incidents."""

    events: list[dict[str, Any]]
    incidents: list[Incident]
    edge_region: dict[str, str]


def _draw_incidents(rng: np.random.Generator, titles: list[str], span: float, per_day: int) -> list[Incident]:
    kinds = list(rng.permutation(KINDS))[:per_day]
    out = []
    slots = np.sort(rng.choice(np.arange(1, int(span // 5400)), size=len(kinds), replace=False))
    for i, (kind, slot) in enumerate(zip(kinds, slots, strict=False)):
        start = START_EPOCH_S + slot * 5400.0 + rng.uniform(0, 1200)
        dur = rng.uniform(15, 40) * 60 if kind != "startup_drift" else 90 * 60
        region = str(rng.choice(list(REGIONS)))
        device = str(rng.choice(["tv", "mobile", "desktop", "tablet"]))
        if kind in ("device_crash", "drm_slowdown"):
            dim, value = "device_class", device
        elif kind in ("region_quality_cap", "startup_drift"):
            dim, value = "region", region
        elif kind == "isp_degradation":
            dim, value = "isp", str(rng.choice([NATIONAL_ISP, *ISPS[region]]))
        elif kind == "app_start_crash":  # on a class sharing its versions, so the pair is the only right name
            device = str(rng.choice(["mobile", "tablet"]))
            dim, value = "device_class*app_version", f"{device}*{DEVICES[device][4][1]}"
        elif kind == "edge_collapse":
            dim, value = "edge", f"{region}-{int(rng.integers(1, 4))}"
        elif kind == "rendition_broken":
            dim, value = "title*rendition", f"{titles[int(rng.integers(0, 2))]}*720p"
        else:
            dim, value = "cdn*region", f"{rng.choice(CDNS)}*{region}"
        out.append(Incident(f"i{i:02d}", kind, dim, value, start, start + dur))
    return out


def generate(seed: int, sessions: int = 20000, titles: int = 300, days: float = 1.0, per_day: int = 6,
             incidents: list[Incident] | None = None) -> World:
    """A day of v2 telemetry; incidents drawn by ``seed`` unless given."""
    rng = np.random.default_rng(seed)
    span = days * 86400.0
    title_ids = [f"ttl{i:05d}" for i in range(titles)]
    incs = incidents if incidents is not None else _draw_incidents(np.random.default_rng([seed, 7]), title_ids, span, per_day)
    # Arrivals: diurnal thinning (peak at 20:00 UTC), plus a flash crowd decoy on one title.
    t = rng.uniform(0, span, size=int(sessions * 1.6))
    keep = rng.uniform(size=len(t)) < (1 + 0.6 * np.cos(2 * np.pi * (t / 3600 - 20) / 24)) / 1.6
    t = np.sort(t[keep])
    weights = 1.0 / np.arange(1, titles + 1) ** 0.9
    weights /= weights.sum()
    flash_title = title_ids[int(rng.integers(5, 20))]
    flash_start = float(rng.uniform(0.3, 0.8) * span)
    device_names = list(DEVICES)
    dshare = np.array([DEVICES[d][0] for d in device_names])
    dshare /= dshare.sum()
    rshare = np.array([0.25, 0.3, 0.3, 0.15])
    events: list[dict[str, Any]] = []
    live = set(title_ids[i] for i in range(0, titles, 10))
    for n, t0 in enumerate(t.tolist()):
        t0 = START_EPOCH_S + t0
        region = list(REGIONS)[int(rng.choice(4, p=rshare))]
        device = device_names[int(rng.choice(len(device_names), p=dshare))]
        _, max_h, oses, models, (old, new) = DEVICES[device]
        rollout = min(1.0, max(0.0, (t0 - START_EPOCH_S) / span * 1.2))  # decoy: the new version rolls out over the day
        app = new if rng.uniform() < 0.3 + 0.6 * rollout else old
        title = flash_title if flash_start <= t0 - START_EPOCH_S < flash_start + 1800 and rng.uniform() < 0.5 else \
            title_ids[int(rng.choice(titles, p=weights))]
        isp = NATIONAL_ISP if rng.uniform() < 0.3 else ISPS[region][int(rng.integers(0, 2))]
        dims = {"schema_version": 2, "viewer_id": f"v{int(rng.integers(0, 10**6))}", "session_id": f"s{seed}-{n}",
                "title_id": title, "region": region, "edge": f"{region}-{int(rng.integers(1, 4))}", "device_class": device,
                "content_type": "live" if title in live else "vod", "isp": isp, "asn": 64500 + len(isp),
                "cdn": CDNS[int(rng.integers(0, 2))], "app_version": app, "player_version": "shaka-4.10.0",
                "os": oses[int(rng.integers(0, len(oses)))], "device_model": models[int(rng.integers(0, len(models)))],
                "connection_type": str(rng.choice(["wifi", "ethernet", "cellular"], p=[0.6, 0.25, 0.15]))}
        dims["pathway"] = dims["cdn"]

        def hit(kind: str, when: float = t0) -> Incident | None:
            for i in incs:
                if i.kind == kind and i.start_s <= when < i.end_s and _matches(i, dims):
                    return i
            return None

        tput = 6000 * REGIONS[region] * (0.6 if dims["connection_type"] == "cellular" else 1.0) * rng.lognormal(0, 0.35)
        startup = rng.lognormal(math.log(1.3), 0.35) + (0.5 if device == "tv" else 0.0)
        if hit("drm_slowdown"):
            startup += rng.uniform(6, 9)
        drift = hit("startup_drift")
        if drift:
            startup += 5.0 * (t0 - drift.start_s) / (drift.end_s - drift.start_s)
        vsf_p = 0.004 + (0.4 if hit("app_start_crash") else 0.0) + (0.25 if hit("cdn_region_errors") else 0.0)
        patience = rng.exponential(25.0)
        duration = float(min(rng.lognormal(math.log(500), 0.9), 3 * 3600))
        base = {**dims}
        if rng.uniform() < vsf_p:
            end = t0 + min(startup, 4.0)
            events.append({**base, "kind": "session_end", "timestamp": end, "started_at": t0, "outcome": "video_start_failure",
                           "play_s": 0.0, "failure_reason": "drm_license_error" if device == "tv" else "network_error"})
            continue
        if startup > patience or rng.uniform() < 0.015:
            end = t0 + min(startup, patience)
            events.append({**base, "kind": "session_end", "timestamp": end, "started_at": t0,
                           "outcome": "exit_before_video_start", "play_s": 0.0})
            continue
        first = t0 + startup
        played = rebuf = 0.0
        stalls = switches = errors = 0
        seq = 0
        last_h: int | None = None
        brs = []
        outcome = "exited"
        reason = None
        beat_t = first
        while True:
            f = 1.0
            if hit("isp_degradation", beat_t):
                f *= 0.2
            if hit("edge_collapse", beat_t):
                f *= 0.12
            bw = tput * f * rng.lognormal(0, 0.15)
            rung = max([i for i, (br, h) in enumerate(LADDER) if br <= 0.75 * bw and h <= max_h] or [0])
            if hit("region_quality_cap", beat_t):
                rung = min(rung, 1)
            br, h = LADDER[rung]
            if last_h is not None and h != last_h:
                switches += 1
            last_h = h
            brs.append(br)
            if bw < 1.1 * br and rng.uniform() < 0.6 or rng.uniform() < 0.01:
                stalls += 1
                rebuf += float(rng.uniform(0.5, 4.0))
            if rng.uniform() < 0.004:
                errors += 1
            title_rend = f"{title}*{h}p"
            crash = 0.0005 + (0.12 if hit("device_crash", beat_t) else 0.0)
            broken = next((i for i in incs if i.kind == "rendition_broken" and i.start_s <= beat_t < i.end_s
                           and i.value == title_rend), None)
            if broken:
                crash += 0.3
            beat = {**base, "kind": "heartbeat", "timestamp": beat_t, "seq": seq, "playhead_s": played, "buffer_s": 12.0,
                    "bitrate_kbps": float(br), "resolution_height": h, "rendition": f"{h}p", "throughput_kbps": round(bw, 1),
                    "startup_s": round(startup, 3), "rebuffer_count": stalls, "rebuffer_s": round(rebuf, 3),
                    "bitrate_switches": switches, "errors": errors,
                    "cmcd": {"br": br, "bl": 12000, "mtp": int(bw), "sid": base["session_id"], "cid": title,
                             "st": "l" if title in live else "v", "sf": "h", "ot": "v", "tb": LADDER[-1][0]}}
            if title in live:
                beat["live_latency_s"] = round(float(rng.lognormal(math.log(6), 0.2)), 2)
            events.append(beat)
            seq += 1
            if rng.uniform() < crash:
                outcome, reason = "video_playback_failure", "media_decode_error"
                break
            if played >= duration:
                outcome = "completed" if rng.uniform() < 0.5 else "exited"
                break
            played += HEARTBEAT_S
            beat_t += HEARTBEAT_S
        end = {**base, "kind": "session_end", "timestamp": beat_t + 1.0, "seq": seq, "started_at": t0, "outcome": outcome,
               "startup_s": round(startup, 3), "play_s": played, "rebuffer_count": stalls, "rebuffer_s": round(rebuf, 3),
               "bitrate_switches": switches, "errors": errors, "avg_bitrate_kbps": float(np.mean(brs)),
               "rendition": f"{last_h}p"}
        if reason:
            end["failure_reason"] = reason
        events.append(end)
    events.sort(key=lambda e: e["timestamp"])
    edge_region = {f"{r}-{i}": r for r in REGIONS for i in range(1, 4)}
    return World(events, incs, edge_region)


def _matches(inc: Incident, dims: dict[str, Any]) -> bool:
    names = inc.dimension.split("*")
    values = inc.value.split("*")
    for name, value in zip(names, values, strict=True):
        key = "title_id" if name == "title" else name
        if name == "rendition":
            continue  # judged per beat
        if str(dims.get(key)) != value:
            return False
    return True


def iter_lines(world: World) -> Iterator[str]:
    import json

    for e in world.events:
        yield json.dumps(e)


def steady_stream(minutes: float, sessions_per_min: float, seed: int = 0, start_s: float = START_EPOCH_S,
                  groups: dict[str, list[str]] | None = None, effect: Any = None, session_min: float = 4.0) -> list[dict[str, Any]]:
    """A small, fast, hand-shaped v2 stream for tests and demos: sessions of ``session_min`` minutes, a beat every 20 s.

    ``groups`` maps a dimension to the values drawn uniformly (defaults: 4 regions, 3 device classes);
    ``effect(t, dims) -> dict`` may return changes for a beat at time ``t``: ``bitrate_kbps``,
    ``crash`` (probability the session fails at this beat), ``start_failure`` (probability at start),
    ``stall`` (probability of a new stall), ``startup_s``.
    """
    rng = np.random.default_rng(seed)
    groups = groups or {"region": ["r1", "r2", "r3", "r4"], "device_class": ["tv", "mobile", "desktop"]}
    n = int(minutes * sessions_per_min)
    starts = np.sort(rng.uniform(0, minutes * 60, size=n)) + start_s
    events: list[dict[str, Any]] = []
    for k, t0 in enumerate(starts.tolist()):
        dims: dict[str, Any] = {"region": "r1", "edge": "e1", "device_class": "tv", "title_id": f"t{int(rng.integers(0, 20))}"}
        for name, values in groups.items():
            dims[name] = values[int(rng.integers(0, len(values)))]
        if "edge" not in groups:
            dims["edge"] = f"{dims['region']}-e{int(rng.integers(1, 3))}"
        base = {"schema_version": 2, "viewer_id": f"v{k}", "session_id": f"s{seed}-{k}", **dims}
        eff0 = effect(t0, dims) if effect else {}
        if rng.uniform() < 0.004 + eff0.get("start_failure", 0.0):
            events.append({**base, "kind": "session_end", "timestamp": t0 + 2.0, "started_at": t0,
                           "outcome": "video_start_failure", "play_s": 0.0, "failure_reason": "network_error"})
            continue
        startup = float(rng.lognormal(math.log(1.2), 0.3)) + eff0.get("startup_s", 0.0)
        stalls, rebuf, outcome = 0, 0.0, "completed"
        beats = max(1, int(session_min * 3))
        t = t0 + startup
        for b in range(beats):
            eff = effect(t, dims) if effect else {}
            if rng.uniform() < 0.02 + eff.get("stall", 0.0):
                stalls += 1
                rebuf += 1.5
            br = float(eff.get("bitrate_kbps", 4000.0)) * float(rng.lognormal(0, 0.1))
            events.append({**base, "kind": "heartbeat", "seq": b, "timestamp": t, "playhead_s": 20.0 * b, "buffer_s": 10.0,
                           "bitrate_kbps": round(br, 1), "startup_s": round(startup, 3), "rebuffer_count": stalls,
                           "rebuffer_s": rebuf})
            if rng.uniform() < 0.0005 + eff.get("crash", 0.0):
                outcome = "video_playback_failure"
                break
            t += 20.0
        end = {**base, "kind": "session_end", "seq": beats, "timestamp": t + 1.0, "started_at": t0, "outcome": outcome,
               "startup_s": round(startup, 3), "play_s": 20.0 * beats, "rebuffer_count": stalls, "rebuffer_s": rebuf}
        if outcome == "video_playback_failure":
            end["failure_reason"] = "media_decode_error"
        events.append(end)
    events.sort(key=lambda e: e["timestamp"])
    return events


def write_world(world: World, out: Path, labels: Path | None = None, days: float = 1.0) -> Path:
    """Events as JSONL and the labels file ``streamlab qoe evaluate`` reads (edges per region in its meta)."""
    import json

    from streamlab.models.qoe.labels import default_labels_path, write_labels

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as handle:
        for e in world.events:
            handle.write(json.dumps(e) + "\n")
    regions: dict[str, list[str]] = {}
    for edge, region in world.edge_region.items():
        regions.setdefault(region, []).append(edge)
    path = labels or default_labels_path(out)
    write_labels(path, world.incidents, {"days": days, "schema_version": 2, "population": {"regions": regions}})
    return path
