"""Generate one simulated day of schema-v2 telemetry (JSONL, sorted by time) and its labels.

Sessions are produced in arrival order and each one is played out at once; its events wait in a
heap until no later arrival can produce an earlier event (every event of a session is at or after
its arrival), so memory holds only the sessions in flight, not the day.

Playback is a small chunk-level model (rate-based ABR with a buffer guard, 6 s segments, 30 s
buffer cap) driven by a real throughput trace: enough to make rebuffering, bitrate and startup
respond to throughput the way players do, without sharing the project's ABR simulator.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from benchmarks.qoe_world.incidents import (
    DECOY_APP_VERSION,
    NEW_APP_VERSION,
    PREMIERE_TITLE,
    Incident,
    schedule,
)
from benchmarks.qoe_world.traces import find_trace_dir, load_traces
from benchmarks.qoe_world.world import (
    BASE_APP_VERSION,
    CDN_MIX,
    CDN_PATHWAYS,
    DEVICES,
    ISPS,
    LADDER,
    LIVE_CHANNELS,
    REGIONS,
    WEB_APP_VERSION,
    DeviceModel,
    Isp,
    Title,
    WorldConfig,
    catalogue,
    cumulative,
    diurnal,
    pick,
)

LADDER_KBPS = [kbps for kbps, _, _ in LADDER]
SEGMENT_S = 6.0
START_SEGMENT_S = 2.0
PATIENCE_MEDIAN_S = 25.0
MAX_BUFFER_S = 30.0
LIVE_MAX_BUFFER_S = 12.0
MAX_SESSION_S = 4 * 3600.0
BASE_VSF_PROB = 0.005
BASE_EBVS_PROB = 0.012
BASE_VPF_HAZARD_PER_MIN = 0.00025
PREMIERE_SHARE = 0.06
VSF_REASONS = ("network_error", "drm_license_error", "manifest_error", "network_error")


@dataclass
class DayStats:
    sessions: int = 0
    events: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    stalled_s: float = 0.0
    played_s: float = 0.0
    startups: list[float] = field(default_factory=list)
    max_pending_events: int = 0
    """Most events held at once: the sessions in flight, not the day (the memory bound)."""

    def summary(self) -> dict[str, float | int | dict[str, int]]:
        n = max(self.sessions, 1)
        starts = sorted(self.startups) or [0.0]
        return {
            "sessions": self.sessions,
            "events": self.events,
            "outcomes": dict(sorted(self.outcomes.items())),
            "ebvs_rate": self.outcomes.get("exit_before_video_start", 0) / n,
            "vsf_rate": self.outcomes.get("video_start_failure", 0) / n,
            "vpf_rate": self.outcomes.get("video_playback_failure", 0) / n,
            "rebuffering_ratio": self.stalled_s / max(self.played_s + self.stalled_s, 1e-9),
            "startup_median_s": starts[len(starts) // 2],
            "max_pending_events": self.max_pending_events,
        }


class DayGenerator:
    """One seeded day. The catalogue depends on the seed only, so days of a seed share titles."""

    def __init__(self, cfg: WorldConfig, seed: int, day: int, traces: list[list[float]]) -> None:
        self.cfg = cfg
        self.seed = seed
        self.day = day
        self.traces = traces
        self.rng = random.Random(f"qoe-world:{seed}:{day}")
        self.np_rng = np.random.default_rng([seed, day, 19])
        self.titles, self.title_cum = catalogue(cfg, random.Random(f"catalogue:{seed}"))
        self.day_start = cfg.day0_epoch_s + day * 86_400
        self.incidents, self.decoys = schedule(cfg, day, self.rng, [t.title_id for t in self.titles[:10]])
        self.rollout = next((d for d in self.decoys if d.type == "app_rollout"), None)
        self.premiere = next((d for d in self.decoys if d.type == "premiere_flash_crowd"), None)
        self.region_cum = cumulative([r.share for r in REGIONS])
        self.device_cum = cumulative([d.share for d in DEVICES])
        self.channel_cum = cumulative([1.0 / (i + 1) for i in range(len(LIVE_CHANNELS))])
        self.stats = DayStats()

    # -- arrivals ---------------------------------------------------------------------------
    def arrivals(self):  # type: ignore[no-untyped-def]
        """(epoch s, region index, premiere?) in time order, a non-homogeneous Poisson process per minute."""
        z = sum(diurnal(m / 60.0) for m in range(1440))
        n = self.cfg.sessions_per_day
        for minute in range(1440):
            t_min = self.day_start + minute * 60.0
            batch = []
            for r_idx, region in enumerate(REGIONS):
                lam = n * region.share * diurnal((minute / 60.0 + region.utc_offset_h) % 24) / z
                for _ in range(int(self.np_rng.poisson(lam))):
                    batch.append((t_min + self.rng.random() * 60.0, r_idx, False))
            if self.premiere is not None and self.premiere.start <= t_min < self.premiere.end:
                x = (t_min - self.premiere.start) / 60.0
                lam = n * PREMIERE_SHARE * math.exp(-x / 25.0) / 25.0
                for _ in range(int(self.np_rng.poisson(lam))):
                    r_idx = REGIONS.index(pick(self.rng, REGIONS, self.region_cum))
                    batch.append((t_min + self.rng.random() * 60.0, r_idx, True))
            batch.sort()
            yield from batch

    # -- one session ------------------------------------------------------------------------
    def _attributes(
        self, t0: float, r_idx: int, premiere: bool, idx: int
    ) -> tuple[dict[str, object], DeviceModel, Isp, Title]:
        rng = self.rng
        region = REGIONS[r_idx]
        dev = pick(rng, DEVICES, self.device_cum)
        edge = pick(rng, region.edges, cumulative([1.0 / (i + 1.5) for i in range(len(region.edges))]))
        cls = dev.device_class
        if cls in ("mobile", "tablet") and rng.random() < (0.35 if cls == "mobile" else 0.1):
            conn = "5g" if rng.random() < 0.3 else "4g"
        elif cls in ("tv", "stb", "console", "desktop", "web") and rng.random() < 0.35:
            conn = "ethernet"
        else:
            conn = "wifi"
        isps = [i for i in ISPS[region.name] if i.mobile == (conn in ("4g", "5g"))]
        isp = pick(rng, isps, cumulative([i.share for i in isps]))
        mix = CDN_MIX[region.name]
        cdn = pick(rng, list(mix), cumulative(list(mix.values())))
        pathway = rng.choice(CDN_PATHWAYS[cdn])
        app = WEB_APP_VERSION if cls == "web" else BASE_APP_VERSION
        if self.rollout is not None and cls in ("mobile", "tablet") and t0 >= self.rollout.start:
            if rng.random() < min(0.7, 0.7 * (t0 - self.rollout.start) / (4 * 3600)):
                app = DECOY_APP_VERSION
        for inc in self.incidents:
            if inc.type == "app_start_crash" and inc.severity_at(t0) and inc.value.split("*")[0] == cls:
                if rng.random() < float(inc.effect["rollout_share"]):
                    app = NEW_APP_VERSION
        if premiere:
            title = Title(PREMIERE_TITLE, 100 * 60.0, False)
        elif rng.random() < self.cfg.live_share:
            title = Title(pick(rng, LIVE_CHANNELS, self.channel_cum), MAX_SESSION_S, True)
        else:
            title = pick(rng, self.titles, self.title_cum)
        return {
            "session_id": f"s{self.seed}d{self.day}n{idx}",
            "viewer_id": f"v{r_idx}{rng.randrange(400_000):06d}",
            "title_id": title.title_id, "region": region.name, "edge": edge, "device_class": cls,
            "content_type": "live" if title.live else "vod", "isp": isp.name, "asn": isp.asn, "cdn": cdn,
            "pathway": pathway, "app_version": app, "player_version": dev.player, "os": dev.os,
            "device_model": dev.model, "connection_type": conn,
        }, dev, isp, title

    def _in_scope(self, inc: Incident, attrs: dict[str, object]) -> bool:
        dims = inc.dimension.split("*")
        values = inc.value.split("*")
        for dim, value in zip(dims, values, strict=True):
            if dim == "rendition":
                continue
            key = "title_id" if dim == "title" else dim
            if str(attrs[key]) != value:
                return False
        return True

    def session(self, t0: float, r_idx: int, premiere: bool, idx: int) -> tuple[list[tuple[float, str]], float]:
        """All of one session's events as (timestamp, JSON line), and its end time."""
        rng = self.rng
        a, dev, isp, title = self._attributes(t0, r_idx, premiere, idx)
        mine = [inc for inc in self.incidents if self._in_scope(inc, a)]
        common = {"schema_version": 2, **a}
        live = title.live
        trace = self.traces[rng.randrange(len(self.traces))]
        offset = rng.randrange(len(trace))
        conn_factor = {"ethernet": 1.3, "wifi": 1.0, "4g": 0.7, "5g": 1.1}[str(a["connection_type"])]
        scale = isp.tput_factor * conn_factor * rng.lognormvariate(0, 0.3)

        def tput(t: float) -> float:
            value = trace[(offset + int(t - t0)) % len(trace)] * scale
            for inc in mine:
                sev = inc.severity_at(t)
                if sev and "tput_factor" in inc.effect:
                    value *= 1 - sev * (1 - float(inc.effect["tput_factor"]))
            return value

        # -- start-up: time to first frame, or an exit / failure before it
        first_kbps = LADDER[1][0] if dev.max_height < 2160 else LADDER[2][0]
        startup = rng.lognormvariate(math.log(dev.startup_median_s), 0.4) + min(START_SEGMENT_S * first_kbps / tput(t0), 15.0)
        vsf_p = BASE_VSF_PROB
        reason = VSF_REASONS[rng.randrange(len(VSF_REASONS))]
        for inc in mine:
            sev = inc.severity_at(t0)
            if sev:
                startup += sev * float(inc.effect.get("startup_add_s", 0.0)) * rng.uniform(0.6, 1.4)
                q = float(inc.effect.get("vsf_prob", 0.0))
                if q and rng.random() < q:
                    vsf_p, reason = 1.0, str(inc.effect["reason"])
        patience = rng.lognormvariate(math.log(PATIENCE_MEDIAN_S), 0.7)
        end_before_start: tuple[float, str] | None = None
        if rng.random() < BASE_EBVS_PROB:
            end_before_start = (startup * rng.uniform(0.1, 0.9), "exit_before_video_start")
        if patience < startup and (end_before_start is None or patience < end_before_start[0]):
            end_before_start = (patience, "exit_before_video_start")
        if rng.random() < vsf_p:
            fail_at = startup * rng.uniform(0.3, 1.0)
            if end_before_start is None or fail_at < end_before_start[0]:
                end_before_start = (fail_at, "video_start_failure")

        events: list[tuple[float, str]] = []
        seq = 0
        hb_every = dev.heartbeat_s
        top_kbps = max(k for k, h, _ in LADDER if h <= dev.max_height)
        cmcd_sf = "h" if dev.player.startswith(("hls.js", "avplayer")) else "d"
        latency_base = rng.uniform(4.0, 8.0) if live else 0.0

        def heartbeat(ts: float, state: dict[str, Any], first: bool) -> None:
            nonlocal seq
            ev = {**common, "kind": "heartbeat", "event_id": f"{a['session_id']}.{seq}", "seq": seq,
                  "timestamp": round(ts, 3), **state}
            ev["cmcd"] = {"br": int(state["bitrate_kbps"]), "bl": int(float(state["buffer_s"]) * 1000),
                          "bs": bool(state.pop("_bs", False)), "cid": a["title_id"], "d": int(SEGMENT_S * 1000),
                          "mtp": int(state.pop("_mtp", 0)), "ot": "v", "pr": 1, "sf": cmcd_sf,
                          "sid": a["session_id"], "st": "l" if live else "v", "su": first, "tb": top_kbps}
            ev.pop("_bs", None)
            ev.pop("_mtp", None)
            events.append((ts, json.dumps(ev, separators=(",", ":"))))
            seq += 1

        # heartbeats while waiting for the first frame
        wait_until = end_before_start[0] if end_before_start else startup
        k = 1
        while k * hb_every < wait_until:
            heartbeat(t0 + k * hb_every, {"playhead_s": 0.0, "buffer_s": 0.0, "bitrate_kbps": first_kbps,
                                          "startup_s": None, "_mtp": tput(t0)}, False)
            k += 1

        def end(ts: float, body: dict[str, object]) -> tuple[list[tuple[float, str]], float]:
            nonlocal seq
            ev = {**common, "kind": "session_end", "event_id": f"{a['session_id']}.{seq}", "seq": seq,
                  "timestamp": round(ts, 3), "started_at": round(t0, 3), **body}
            events.append((ts, json.dumps(ev, separators=(",", ":"))))
            self.stats.sessions += 1
            self.stats.events += len(events)
            outcome = str(body["outcome"])
            self.stats.outcomes[outcome] = self.stats.outcomes.get(outcome, 0) + 1
            return events, ts

        if end_before_start is not None:
            at, outcome = end_before_start
            body: dict[str, object] = {"outcome": outcome, "startup_s": None, "play_s": 0.0}
            if outcome == "video_start_failure":
                body["failure_reason"] = reason
                body["errors"] = 1
            return end(t0 + at, body)

        # -- playback
        self.stats.startups.append(startup)
        if live:
            watch = min(rng.lognormvariate(math.log(20 * 60), 0.9), MAX_SESSION_S)
        else:
            watch = min(rng.lognormvariate(math.log(14 * 60), 0.9), title.duration_s, MAX_SESSION_S)
        completes = not live and watch >= title.duration_s
        max_buffer = LIVE_MAX_BUFFER_S if live else MAX_BUFFER_S
        top_rung = max(i for i, (_, h_, _) in enumerate(LADDER) if h_ <= dev.max_height)
        # a constant hazard: draw the failure time once instead of a coin per segment
        base_failure_at = t0 + startup + rng.expovariate(BASE_VPF_HAZARD_PER_MIN / 60.0)
        wall = t0 + startup
        buffer = SEGMENT_S
        est = tput(t0)
        rung = next(i for i, (k_, _, _) in enumerate(LADDER) if k_ == first_kbps)
        playhead = rebuffer_s = 0.0
        rebuffer_count = switches = errors = dropped = 0
        kbps_s = height_s = latency_sum = 0.0
        latency_n = 0
        stalled_since_beat = False
        failure: str | None = None
        next_hb = wall
        first = True
        latency = latency_base

        def state() -> dict[str, object]:
            kbps, height, label = LADDER[rung]
            s: dict[str, object] = {
                "playhead_s": round(playhead, 2), "buffer_s": round(min(buffer, 600.0), 2),
                "bitrate_kbps": kbps, "resolution_height": height, "rendition": label,
                "throughput_kbps": round(est, 1), "startup_s": round(startup, 3),
                "rebuffer_count": rebuffer_count, "rebuffer_s": round(rebuffer_s, 2),
                "bitrate_switches": switches, "errors": errors, "dropped_frames": dropped,
                "_bs": stalled_since_beat, "_mtp": est,
            }
            if live:
                s["live_latency_s"] = round(latency, 2)
            return s

        while playhead < watch and wall - t0 < MAX_SESSION_S:
            if wall >= next_hb:
                heartbeat(wall, state(), first)
                first = False
                stalled_since_beat = False
                next_hb = wall + hb_every
            cap = float("inf")
            err_p = 0.002
            latency_add = 0.0
            label_now = LADDER[rung][2]
            for inc in mine:
                sev = inc.severity_at(wall)
                if not sev:
                    continue
                eff = inc.effect
                if "cap_kbps" in eff:
                    cap = float(eff["cap_kbps"])
                if "vpf_hazard_per_min" in eff and eff.get("rendition", label_now) == label_now:
                    if rng.random() < 1 - math.exp(-float(eff["vpf_hazard_per_min"]) * SEGMENT_S / 60):
                        failure = str(eff["reason"])
                err_p += sev * float(eff.get("errors_per_chunk", 0.0))
                latency_add += sev * float(eff.get("latency_add_s", 0.0))
            if failure is None and wall >= base_failure_at:
                failure = rng.choice(("media_decode_error", "network_error", "app_crash"))
            if failure is not None:
                break
            now = tput(wall)
            est = 0.7 * est + 0.3 * now
            safety = 0.9 if buffer > 15 else 0.7 if buffer > 6 else 0.5
            budget = min(est * safety, cap)
            new = max(0, min(bisect.bisect_right(LADDER_KBPS, budget), top_rung + 1) - 1)
            if new != rung:
                switches += 1
                rung = new
            kbps, height, _ = LADDER[rung]
            download = SEGMENT_S * kbps / now + 0.05
            stall = max(0.0, download - buffer)
            if stall < 0.1:
                stall = 0.0
            else:
                rebuffer_count += 1
                stalled_since_beat = True
            buffer = max(0.0, buffer - download) + SEGMENT_S
            idle = max(0.0, buffer - max_buffer)
            buffer -= idle
            elapsed = download + idle
            played = max(0.0, elapsed - stall)
            rebuffer_s += stall
            playhead += played
            kbps_s += played * kbps
            height_s += played * height
            wall += elapsed
            if rng.random() < err_p:
                errors += 1
            if rng.random() < 0.05:
                dropped += rng.randint(1, 30)
            if live:
                latency = latency_base + 0.5 * rebuffer_s + latency_add + rng.uniform(-0.5, 0.5)
                latency_sum += latency
                latency_n += 1
        played_total = max(playhead, 1e-9)
        self.stats.played_s += playhead
        self.stats.stalled_s += rebuffer_s
        body = {
            "outcome": "video_playback_failure" if failure else "completed" if completes else "exited",
            "startup_s": round(startup, 3), "play_s": round(playhead, 2),
            "rebuffer_count": rebuffer_count, "rebuffer_s": round(rebuffer_s, 2),
            "bitrate_switches": switches, "errors": errors + (1 if failure else 0),
            "avg_bitrate_kbps": round(kbps_s / played_total, 1) if playhead > 0 else float(first_kbps),
            "avg_resolution_height": round(height_s / played_total, 1) if playhead > 0 else float(LADDER[rung][1]),
        }
        if failure:
            body["failure_reason"] = failure
        if live:
            body["live_latency_s"] = round(latency_sum / latency_n if latency_n else latency, 2)
        return end(wall, body)

    # -- the day ----------------------------------------------------------------------------
    def write(self, out: IO[str]) -> DayStats:
        """Stream the day's events, sorted by timestamp, to ``out``."""
        heap: list[tuple[float, int, str]] = []
        counter = 0
        for idx, (t0, r_idx, premiere) in enumerate(self.arrivals()):
            while heap and heap[0][0] <= t0:
                out.write(heapq.heappop(heap)[2] + "\n")
            events, _ = self.session(t0, r_idx, premiere, idx)
            for ts, line in events:
                heapq.heappush(heap, (ts, counter, line))
                counter += 1
            self.stats.max_pending_events = max(self.stats.max_pending_events, len(heap))
        while heap:
            out.write(heapq.heappop(heap)[2] + "\n")
        return self.stats

    def labels(self) -> dict[str, object]:
        return {
            "world": "qoe_world/1",
            "seed": self.seed,
            "day": self.day,
            "start": self.day_start,
            "end": self.day_start + 86_400,
            "config": {"sessions_per_day": self.cfg.sessions_per_day, "titles": self.cfg.titles},
            "incidents": [inc.label() for inc in self.incidents],
            "decoys": [vars(d) for d in self.decoys],
            "summary": self.stats.summary(),
        }


def generate_day(cfg: WorldConfig, seed: int, day: int, events_path: Path, labels_path: Path,
                 traces: list[list[float]] | None = None) -> dict[str, object]:
    """Write one day's events and labels; return the labels (with the day's summary)."""
    traces = traces if traces is not None else load_traces(find_trace_dir())
    gen = DayGenerator(cfg, seed, day, traces)
    events_path.parent.mkdir(parents=True, exist_ok=True)
    with events_path.open("w") as out:
        gen.write(out)
    labels = gen.labels()
    labels_path.write_text(json.dumps(labels, indent=1))
    return labels


def parse_incidents(spec: str) -> tuple[str, ...] | None:
    """``all`` -> every type, ``none`` -> no incident, else a comma list of types."""
    if spec == "all":
        return None
    if spec == "none":
        return ()
    return tuple(part.strip() for part in spec.split(",") if part.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate one day of the independent QoE world.")
    parser.add_argument("--out", type=Path, required=True, help="events .jsonl")
    parser.add_argument("--labels", type=Path, help="default: <out stem>.labels.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--day", type=int, default=0)
    parser.add_argument("--sessions", type=int, default=WorldConfig.sessions_per_day)
    parser.add_argument("--titles", type=int, default=WorldConfig.titles)
    parser.add_argument("--incidents", default="all", help="all, none, or a comma list of types")
    args = parser.parse_args(argv)
    cfg = WorldConfig(sessions_per_day=args.sessions, titles=args.titles, incident_types=parse_incidents(args.incidents))
    labels_path = args.labels or args.out.with_name(args.out.stem + ".labels.json")
    started = time.perf_counter()
    labels = generate_day(cfg, args.seed, args.day, args.out, labels_path)
    print(json.dumps({**labels["summary"], "seconds": round(time.perf_counter() - started, 1)}))  # type: ignore[dict-item]
    return 0


if __name__ == "__main__":
    sys.exit(main())
