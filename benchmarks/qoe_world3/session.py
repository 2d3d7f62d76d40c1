"""One Kestrel session: who it is (dimension values) and how it plays, as schema-v2 events.

Playback is simulated beat by beat (10-30 s, the device class's heartbeat period), not second by second: each
interval replays the mean of a real throughput trace over that interval, a rate-based ABR picks a rung, and a
buffer model turns the rate deficit into stall seconds. That keeps a 15,000-session day within minutes of CPU while
stalls still follow the traces' real dips and outages.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass

from benchmarks.qoe_world3.incidents import Incident, Schedule
from benchmarks.qoe_world3.world import (
    CONNECTION_SPEED,
    DEBUT_MODEL,
    DEVICE_CLASSES,
    LADDER,
    PATHWAY_TTFB_FACTOR,
    PATHWAYS,
    ROLLOUT_APP,
    SEGMENT_S,
    Catalogue,
    DeviceModel,
    Region,
    edge_name,
    lognormal,
    weighted,
)

BASE_VSF_P = 0.006
BASE_EBVS_P = 0.022
"""Viewers who change their mind before the first frame whatever the startup time (on top of impatience)."""
BASE_VPF_PER_MIN = 0.0004
VSF_REASONS = (("drm_license_error", 0.4), ("network_error", 0.3), ("manifest_error", 0.15),
               ("media_decode_error", 0.15))
VPF_REASONS = (("network_error", 0.5), ("media_decode_error", 0.3), ("drm_license_error", 0.2))
NO_CMCD_PLAYERS = frozenset({"kplay-stb-1.9.4", "avkit-17"})
"""Players whose build sends no CMCD: their heartbeats carry only top-level fields."""

Traces = list[tuple[list[float], list[float]]]
"""Per trace: (kbit/s per second, prefix sums) for constant-time interval means."""


def prepare_traces(per_second: list[list[float]]) -> Traces:
    """Prefix sums next to each trace, so an interval's mean throughput costs two lookups."""
    out: Traces = []
    for trace in per_second:
        prefix = [0.0]
        for v in trace:
            prefix.append(prefix[-1] + v)
        out.append((trace, prefix))
    return out


def _trace_mean(trace: tuple[list[float], list[float]], pos: float, dt: float) -> float:
    values, prefix = trace
    n = len(values)
    a = int(pos) % n
    b = a + max(1, int(dt))
    if b <= n:
        return (prefix[b] - prefix[a]) / (b - a)
    return (prefix[n] - prefix[a] + prefix[b - n]) / (b - a)


@dataclass
class SessionSpec:
    """What a session is before it plays: identity, dimension values, intent, playback constants."""

    session_id: str
    viewer_id: str
    started_at: float
    attrs: dict[str, str]
    live: bool
    intent_s: float
    title_len_s: float
    beat_s: float
    startup_median_s: float
    max_height: int
    speed: float


def draw_session(rng: random.Random, index: int, t0: float, region: Region, kind: int, day_start: float,
                 schedule: Schedule, catalogue: Catalogue, viewers_per_region: int) -> SessionSpec:
    """Dimension values and intent of one session; ``kind`` 1 is a premiere viewer, 2 a sports-match viewer."""
    cls = DEVICE_CLASSES[int(weighted(rng, [(str(i), c.share) for i, c in enumerate(DEVICE_CLASSES)]))]
    debut = schedule.decoy("device_model_debut")
    model: DeviceModel
    if cls.name == "tv" and t0 >= debut.start and rng.random() < debut.effect["tv_share"]:
        model = DEBUT_MODEL
    else:
        model = cls.models[int(weighted(rng, [(str(i), m.share) for i, m in enumerate(cls.models)]))]
    app = weighted(rng, cls.apps)
    if cls.name == ROLLOUT_APP[0] and rng.random() < 0.5 * (t0 - day_start) / 86400.0:
        app = ROLLOUT_APP[1]
    conn = weighted(rng, cls.connections)
    cellular = conn in ("4g", "5g")
    isps = [i for i in region.isps if i.mobile == cellular]
    isp = isps[int(weighted(rng, [(str(k), i.share) for k, i in enumerate(isps)]))]
    cdn = weighted(rng, region.cdns)
    steer = schedule.decoy("pathway_steering_shift")
    pathways = PATHWAYS[cdn]
    if steer.start <= t0 < steer.end and any(p == steer.value for p, _ in pathways):
        pathway = steer.value if rng.random() < steer.effect["target_share"] else weighted(rng, pathways)
    else:
        pathway = weighted(rng, pathways)
    city = rng.choice(region.cities)
    edge = edge_name(cdn, city, 1 if cdn == "koc" else rng.choice((1, 1, 2)))
    premiere = schedule.decoy("premiere_flash_crowd")
    sport = schedule.decoy("sports_live_spike")
    if kind == 1:
        title, live = premiere.value, False
    elif kind == 2:
        title, live = sport.value, True
    elif rng.random() < 0.14:
        title, live = weighted(rng, catalogue.live), True
    elif t0 >= premiere.start and rng.random() < 0.03:
        title, live = premiere.value, False
    else:
        title, live = catalogue.pick_vod(rng), False
    if kind == 2:
        intent = max(120.0, sport.end - t0 + rng.gauss(0, 300))
    elif live:
        intent = min(lognormal(rng, 12 * 60.0, 1.0), 4 * 3600.0)
    else:
        intent = min(lognormal(rng, 9 * 60.0, 1.0), 5 * 3600.0)
    attrs = {
        "title_id": title, "region": region.name, "edge": edge, "device_class": cls.name,
        "content_type": "live" if live else "vod", "isp": isp.name, "asn": weighted(rng, isp.asns), "cdn": cdn,
        "pathway": pathway, "app_version": app, "player_version": weighted(rng, model.players),
        "os": weighted(rng, model.oses), "device_model": model.name, "connection_type": conn,
    }
    pool = viewers_per_region
    return SessionSpec(
        session_id=f"ks-{int(day_start) // 86400}-{index:06d}",
        viewer_id=f"kv-{region.name[:3]}-{rng.randrange(pool):06d}",
        started_at=t0, attrs=attrs, live=live, intent_s=intent,
        title_len_s=math.inf if live else catalogue.length_s(title),
        beat_s=cls.beat_s, startup_median_s=cls.startup_median_s, max_height=model.max_height,
        speed=CONNECTION_SPEED[conn] * isp.speed * lognormal(rng, 1.0, 0.35),
    )


def _rung_for(kbps: float, max_height: int) -> int:
    best = 0
    for i, (height, rate) in enumerate(LADDER):
        if height <= max_height and rate <= kbps:
            best = i
    return best


def _active(incidents: list[Incident], t: float) -> list[Incident]:
    return [i for i in incidents if i.start <= t < i.end]


class _Events:
    """Serialises one session's events; the common fields are built once."""

    def __init__(self, spec: SessionSpec) -> None:
        a = spec.attrs
        self.sid = spec.session_id
        self.common = {
            "schema_version": 2, "viewer_id": spec.viewer_id, "session_id": spec.session_id,
            "title_id": a["title_id"], "region": a["region"], "edge": a["edge"], "device_class": a["device_class"],
            "content_type": a["content_type"], "isp": a["isp"], "asn": int(a["asn"]), "cdn": a["cdn"],
            "pathway": a["pathway"], "app_version": a["app_version"], "player_version": a["player_version"],
            "os": a["os"], "device_model": a["device_model"], "connection_type": a["connection_type"],
        }
        self.cmcd = a["player_version"] not in NO_CMCD_PLAYERS
        self.sf = "d" if a["player_version"].startswith(("shaka", "exo", "media3")) else "h"
        self.st = "l" if spec.live else "v"
        self.seq = 0
        self.out: list[tuple[float, str]] = []

    def emit(self, kind: str, ts: float, fields: dict[str, object]) -> None:
        ts = round(ts, 3)
        event = {"kind": kind, "event_id": f"{self.sid}:{self.seq}", "seq": self.seq, "timestamp": ts,
                 **self.common, **fields}
        self.seq += 1
        self.out.append((ts, json.dumps(event, separators=(",", ":"))))


def simulate(
    spec: SessionSpec, rng: random.Random, traces: Traces, incidents: list[Incident]
) -> list[tuple[float, str]]:
    """Play one session against the incidents whose scope it is in; returns ``(timestamp, JSON line)`` pairs."""
    mine = [i for i in incidents if i.matches(spec.attrs)]
    ev = _Events(spec)
    t0 = spec.started_at
    at_start = _active(mine, t0)
    cellular = spec.attrs["connection_type"] in ("4g", "5g")

    vsf_p = BASE_VSF_P + sum(i.effect.get("vsf_p", 0.0) for i in at_start)
    if rng.random() < vsf_p:
        reason = weighted(rng, VSF_REASONS)
        if any(i.type == "title_manifest_broken" for i in at_start):
            reason = "manifest_parse_error"
        elif any(i.type == "region_partial_outage" for i in at_start) and rng.random() < 0.8:
            reason = "network_error"
        ev.emit("session_end", t0 + rng.uniform(0.8, 8.0), _end_fields(t0, "video_start_failure", None, reason))
        return ev.out

    trace = traces[rng.randrange(len(traces))]
    pos = rng.uniform(0, len(trace[0]))
    thr_factor = math.prod(i.effect.get("throughput_factor", 1.0) for i in at_start)
    est = _trace_mean(trace, pos, 4.0) * spec.speed * thr_factor
    cap_height = min([spec.max_height] + [int(i.effect["max_height"]) for i in at_start if "max_height" in i.effect])
    rung = max(0, _rung_for(0.6 * est, cap_height) - 1)
    startup_factor = PATHWAY_TTFB_FACTOR[spec.attrs["pathway"]] * (1.3 if cellular else 1.0)
    startup_factor *= math.prod(i.effect.get("startup_factor", 1.0) for i in at_start)
    first_segment_s = min(20.0, SEGMENT_S * LADDER[rung][1] / max(est, 50.0))
    startup = lognormal(rng, spec.startup_median_s * startup_factor, 0.4) + first_segment_s
    patience = lognormal(rng, 20.0, 0.6)
    ebvs_p = BASE_EBVS_P + sum(i.effect.get("ebvs_p", 0.0) for i in at_start)
    if rng.random() < ebvs_p:
        leave = rng.uniform(0.4, min(startup, patience, 15.0))
        if any("ebvs_p" in i.effect for i in at_start):
            leave = rng.uniform(4.0, 15.0)
        ev.emit("session_end", t0 + leave, _end_fields(t0, "exit_before_video_start", None, None))
        return ev.out
    if startup > patience:
        ev.emit("session_end", t0 + patience, _end_fields(t0, "exit_before_video_start", None, None))
        return ev.out

    startup = round(startup, 3)
    t = t0 + startup
    live = spec.live
    buffer_cap = 10.0 if live else 30.0
    buffer = SEGMENT_S
    played = stall_s = 0.0
    stalls = switches = errors = dropped = 0
    br_time = height_time = latency_sum = 0.0
    beats = 0
    join_latency = lognormal(rng, 11.0, 0.3) if live else 0.0
    max_end = min(spec.intent_s, spec.title_len_s)
    outcome = "exited"
    fail_reason: str | None = None
    top_kbps = LADDER[_rung_for(1e9, spec.max_height)][1]
    last_thr = est
    stalled_since_beat = False

    def creep(ts: float) -> float:
        total = 0.0
        for inc in mine:
            if inc.type == "live_latency_creep" and ts >= inc.start:
                span = min(ts, inc.end) - inc.start
                total += inc.effect["step_s"] * (1 + int(span // inc.effect["step_every_s"]))
        return total

    def beat(ts: float, first: bool) -> None:
        nonlocal beats, br_time, latency_sum
        height, kbps = LADDER[rung]
        fields: dict[str, object] = {
            "playhead_s": round(played, 2), "buffer_s": round(min(buffer, 600.0), 2), "bitrate_kbps": kbps,
            "resolution_height": height, "rendition": f"{height}p", "throughput_kbps": round(last_thr, 1),
            "startup_s": startup, "rebuffer_count": stalls, "rebuffer_s": round(stall_s, 2),
            "bitrate_switches": switches, "errors": errors, "dropped_frames": dropped,
        }
        if live:
            latency = join_latency + stall_s + creep(ts)
            fields["live_latency_s"] = round(latency, 2)
            latency_sum += latency
            beats += 1
        if ev.cmcd:
            fields["cmcd"] = {"br": kbps, "bl": int(buffer * 1000), "bs": stalled_since_beat and not first,
                              "cid": ev.common["title_id"], "d": int(SEGMENT_S * 1000), "mtp": int(last_thr),
                              "ot": "v", "sf": ev.sf, "sid": ev.sid, "st": ev.st, "tb": top_kbps, "su": first}
        ev.emit("heartbeat", ts, fields)

    beat(t, True)
    while True:
        dt = spec.beat_s + rng.uniform(-1.0, 1.0)
        mid = t + dt / 2
        now = _active(mine, mid)
        factor = math.prod(i.effect.get("throughput_factor", 1.0) for i in now)
        thr = _trace_mean(trace, pos, dt) * spec.speed * factor
        pos += dt
        cap = min([spec.max_height] + [int(i.effect["max_height"]) for i in now if "max_height" in i.effect])
        est = 0.7 * est + 0.3 * thr
        target = _rung_for(0.8 * est, cap)
        if buffer < 6.0 and target > 0:
            target -= 1
        if target != rung:
            switches += 1
            rung = target
        kbps = LADDER[rung][1]
        r = thr / kbps
        step_stall = 0.0
        if r >= 1.0:
            buffer = min(buffer_cap, buffer + (r - 1.0) * dt)
        else:
            t_empty = buffer / (1.0 - r)
            if t_empty >= dt:
                buffer -= (1.0 - r) * dt
            else:
                step_stall = (dt - t_empty) * (1.0 - r)
                buffer = min(buffer_cap, 1.0 + r * SEGMENT_S)
        extra_p = 0.0
        extra_median = 3.0
        for inc in now:
            e = inc.effect
            if "stall_p" in e:
                extra_p += e["stall_p"]
                extra_median = e["stall_median_s"]
            elif "stall_p_cellular" in e:
                extra_p += e["stall_p_cellular"] if cellular else e["stall_p_other"]
                extra_median = e["stall_median_s"]
        if extra_p and rng.random() < extra_p:
            step_stall += min(dt * 0.8, lognormal(rng, extra_median, 0.5))
        stalled_since_beat = step_stall > 0.3
        if stalled_since_beat:
            stalls += 1
            stall_s += step_stall
        else:
            step_stall = 0.0
        step_play = dt - step_stall
        last_thr = thr * lognormal(rng, 1.0, 0.1)
        if rng.random() < 0.004:
            errors += 1
        if LADDER[rung][0] >= 1440 or rng.random() < 0.1:
            dropped += int(rng.expovariate(0.5))
        vpf_min = BASE_VPF_PER_MIN * (1.5 if cellular else 1.0) + sum(i.effect.get("vpf_per_min", 0.0) for i in now)
        vpf_p = 1.0 - math.exp(-vpf_min * dt / 60.0) + sum(i.effect.get("vpf_p_beat", 0.0) for i in now)
        if rng.random() < vpf_p:
            frac = rng.random()
            played += step_play * frac
            br_time += kbps * step_play * frac
            height_time += LADDER[rung][0] * step_play * frac
            t += dt * frac
            outcome = "video_playback_failure"
            fail_reason = weighted(rng, VPF_REASONS)
            if any("vpf_per_min" in i.effect for i in now):
                fail_reason = "app_crash"
            elif any(i.type == "region_partial_outage" for i in now):
                fail_reason = "network_error"
            break
        if played + step_play >= max_end:
            frac = (max_end - played) / step_play if step_play > 0 else 0.0
            br_time += kbps * (max_end - played)
            height_time += LADDER[rung][0] * (max_end - played)
            played = max_end
            t += dt * frac
            outcome = "completed" if max_end >= spec.title_len_s else "exited"
            break
        played += step_play
        br_time += kbps * step_play
        height_time += LADDER[rung][0] * step_play
        t += dt
        beat(t, False)

    fields = _end_fields(t0, outcome, startup, fail_reason)
    fields.update({
        "play_s": round(played, 2), "rebuffer_count": stalls, "rebuffer_s": round(stall_s, 2),
        "bitrate_switches": switches, "errors": errors,
        "rebuffering_ratio": round(stall_s / (played + stall_s), 5) if played + stall_s > 0 else 0.0,
        "rendition": f"{LADDER[rung][0]}p",
    })
    if played > 0:
        fields["avg_bitrate_kbps"] = round(br_time / played, 1)
        fields["avg_resolution_height"] = round(height_time / played, 1)
    if live and beats:
        fields["live_latency_s"] = round(latency_sum / beats, 2)
    ev.emit("session_end", max(t, t0 + startup), fields)
    return ev.out


def _end_fields(t0: float, outcome: str, startup: float | None, reason: str | None) -> dict[str, object]:
    fields: dict[str, object] = {"started_at": round(t0, 3), "outcome": outcome, "startup_s": startup, "play_s": 0.0}
    if reason is not None:
        fields["failure_reason"] = reason
    return fields
