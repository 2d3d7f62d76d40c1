"""The telemetry simulator: a population watching through the ABR simulator, incidents with ground truth.

Per session: arrival (diurnal Poisson), viewer, region, edge, device, title, a throughput scale
(region x edge x device x lognormal), an ABR outcome on a real trace (library or live, see
:mod:`streamlab.training.qoe.library`), an origin latency before the first chunk, abandonment, background
errors and failures, and whatever the active incidents do to it. From the per-chunk outcome it
renders heartbeats every ``heartbeat_s`` (cumulative counters, buffer, measured throughput) and a
session summary (design score inputs and the mean per-chunk QoE). Heartbeat rendering is vectorised
over all sessions, so a day at nominal load (~50k sessions, ~550k events) takes seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from streamlab.models.qoe.labels import Incident, default_labels_path, write_labels
from streamlab.models.qoe.settings import QoeSettings
from streamlab.training.qoe.incidents import parse_spec
from streamlab.training.qoe.library import Library, OscillatingPolicy, Outcomes, load_library, piecewise, play_outcome, rotate
from streamlab.training.qoe.population import Population

FAILURE_REASONS = ("network_error", "drm_license_error", "media_decode_error")


@dataclass
class Simulation:
    heartbeats: pd.DataFrame
    summaries: pd.DataFrame
    incidents: list[Incident]
    meta: dict[str, Any]

    @property
    def events(self) -> int:
        return len(self.heartbeats) + len(self.summaries)


def simulate(settings: QoeSettings, seed: int, days: float = 1.0, spec: str | None = None,
             library: Library | None = None) -> Simulation:
    """Simulate ``days`` of telemetry from ``population.start_epoch_s`` with the incidents of ``spec``."""
    rng = np.random.default_rng(seed)
    population = Population.from_settings(settings.population)
    origin = settings.population.start_epoch_s
    span = days * 86400.0
    incidents = parse_spec(spec, population, settings.incidents, np.random.default_rng([seed, 1]), origin, span)
    library = library or load_library(settings.abr)
    times = population.arrivals(rng, origin, span)
    sessions = population.draw_sessions(rng, times, seed)
    n = len(sessions)
    chunks = library.video.total_chunks

    # Normal outcome from the library; watch length; origin latency; background failures and errors.
    trace_idx = rng.integers(0, len(library.traces), n)
    offset_idx = rng.integers(0, library.offsets, n)
    scale_idx = library.nearest_scale(sessions["throughput_scale"].to_numpy())
    outcome = library.index(trace_idx, offset_idx, scale_idx)
    watch = np.where(rng.random(n) < settings.population.completion_fraction, chunks, rng.integers(1, chunks, n))
    origin_s = settings.population.origin_latency_s * np.exp(rng.normal(0.0, 0.4, n))
    fail_at_start = rng.random(n) < settings.population.base_failure_rate
    fail_reason = np.array(FAILURE_REASONS, dtype=object)[rng.integers(0, len(FAILURE_REASONS), n)]
    crash_at = np.full(n, np.nan)  # session-relative time of a mid-playback crash
    err_rate = np.array([settings.population.devices[d].errors_per_min for d in sessions["device"]]) / 60.0
    outcomes = library.outcomes
    start = sessions["start_s"].to_numpy()
    est_end = start + origin_s + outcomes.done_s[outcome, -1] + 20.0
    extra_errors: list[tuple[int, float, float, float]] = []  # (session, from_rel, to_rel, rate/s)

    live_rows: list[dict[str, np.ndarray]] = []
    live_for: dict[int, int] = {}
    for inc in incidents:
        in_scope = (sessions[_column(inc.dimension)].to_numpy() == inc.value)
        overlaps = in_scope & (start < inc.end_s) & (est_end > inc.start_s)
        starts_inside = in_scope & (start >= inc.start_s) & (start < inc.end_s)
        if inc.kind in ("edge_collapse", "region_collapse", "abr_regression"):
            for i in np.flatnonzero(overlaps):
                base = rotate(library.traces[trace_idx[i]], offset_idx[i] / library.offsets).scaled(float(library.scales[scale_idx[i]]))
                rel_from, rel_to = inc.start_s - start[i] - origin_s[i], inc.end_s - start[i] - origin_s[i]
                policy = library.policy()
                if inc.kind == "abr_regression":
                    policy = OscillatingPolicy(policy, int(inc.params.get("jump_levels", 3)), rel_from, rel_to)
                    trace = base
                else:
                    trace = piecewise(base, float(inc.params["throughput_factor"]), rel_from, rel_to)
                live_for[int(i)] = len(live_rows)
                live_rows.append(play_outcome(trace, library.video, policy))
        elif inc.kind == "origin_slowness":
            lo, hi = inc.params["extra_startup_s"]
            idx = np.flatnonzero(starts_inside)
            origin_s[idx] += rng.uniform(lo, hi, len(idx))
        elif inc.kind == "broken_encode":
            idx = np.flatnonzero(starts_inside)
            hit = idx[rng.random(len(idx)) < inc.params["failure_probability"]]
            fail_at_start[hit] = True
            fail_reason[hit] = "media_decode_error"
        elif inc.kind == "app_bug":
            idx = np.flatnonzero(overlaps)
            lo = np.maximum(inc.start_s - start[idx], 0.0)
            hi = np.maximum(np.minimum(inc.end_s, est_end[idx]) - start[idx], lo)
            crash = rng.random(len(idx)) < inc.params["failure_probability"]
            at = lo + rng.random(len(idx)) * (hi - lo)
            crash_at[idx[crash]] = np.fmin(crash_at[idx[crash]], at[crash])
            fail_reason[idx[crash]] = "app_crash"
            rate = float(inc.params["errors_per_min"]) / 60.0
            extra_errors.extend((int(i), float(a), float(b), rate) for i, a, b in zip(idx, lo, hi, strict=False))

    if live_rows:
        base_count = len(outcomes)
        outcomes = outcomes.concat(Outcomes.stack(live_rows))
        for i, row in live_for.items():
            outcome[i] = base_count + row

    return _render(settings, sessions, outcomes, outcome, watch, origin_s, fail_at_start, fail_reason, crash_at,
                   err_rate, extra_errors, incidents, rng, seed, days, population)


def _column(dimension: str) -> str:
    return "title_id" if dimension == "title" else dimension


def _render(settings: QoeSettings, sessions: pd.DataFrame, o: Outcomes, outcome: np.ndarray, watch: np.ndarray,
            origin_s: np.ndarray, fail_at_start: np.ndarray, fail_reason: np.ndarray, crash_at: np.ndarray,
            err_rate: np.ndarray, extra_errors: list[tuple[int, float, float, float]], incidents: list[Incident],
            rng: np.random.Generator, seed: int, days: float, population: Population) -> Simulation:
    n = len(sessions)
    hb_s = settings.population.heartbeat_s
    start = sessions["start_s"].to_numpy()
    last = watch - 1
    done = o.done_s[outcome] + origin_s[:, None]                   # [n, chunks] session-relative completion
    stall = o.rebuffer_s[outcome].copy()
    stall[:, 0] = 0.0                                                # chunk 0's "stall" is the startup wait
    cum_stall = np.cumsum(stall, axis=1)
    cum_stalls = np.cumsum(stall > 0, axis=1)
    bitrate = o.bitrate_kbps[outcome]
    cum_switch = np.concatenate([np.zeros((n, 1)), np.cumsum(np.diff(bitrate, axis=1) != 0, axis=1)], axis=1)
    rows = np.arange(n)
    startup = done[:, 0]
    end_rel = done[rows, last] + np.where(watch == o.done_s.shape[1], o.buffer_s[outcome, last], np.minimum(o.buffer_s[outcome, last], 4.0))
    crashed = ~np.isnan(crash_at) & (crash_at < end_rel)
    end_rel = np.where(crashed, np.maximum(crash_at, 0.5), end_rel)
    failed_start = fail_at_start | (crashed & (crash_at < startup))
    end_rel = np.where(fail_at_start, origin_s + rng.uniform(1.0, 5.0, n), end_rel)
    failed = failed_start | crashed

    # Errors: background Poisson over the session plus incident bursts; each failure is one error too.
    err_times: dict[int, np.ndarray] = {}
    base_counts = rng.poisson(err_rate * end_rel)
    for i in np.flatnonzero(base_counts):
        err_times[int(i)] = rng.uniform(0.0, end_rel[i], base_counts[i])
    for i, a, b, rate in extra_errors:
        b = min(b, end_rel[i])
        k = rng.poisson(rate * max(b - a, 0.0))
        if k:
            err_times[i] = np.concatenate([err_times.get(i, np.empty(0)), rng.uniform(a, b, k)])

    # Heartbeats every hb_s until the session ends (none for a session that never got going).
    n_hb = np.where(failed_start, 0, np.floor((end_rel - 1e-6) / hb_s).astype(int))
    sid = np.repeat(rows, n_hb)
    k = np.arange(len(sid)) - np.repeat(np.cumsum(n_hb) - n_hb, n_hb) + 1
    t_rel = k * hb_s
    done_rows = done[sid]
    idx = (done_rows <= t_rel[:, None]).sum(axis=1) - 1
    idx = np.minimum(idx, last[sid])
    started = idx >= 0
    j = np.maximum(idx, 0)
    buffer = np.where(started, np.maximum(o.buffer_s[outcome[sid], j] - (t_rel - done_rows[np.arange(len(sid)), j]), 0.0), 0.0)
    hb_stall = np.where(started, cum_stall[sid, j], 0.0)
    playhead = np.clip(np.where(started, t_rel - startup[sid] - hb_stall, 0.0), 0.0, 4.0 * watch[sid])
    errors = np.zeros(len(sid), dtype=int)
    if err_times:
        pos = np.cumsum(n_hb) - n_hb
        for i, times in err_times.items():
            if n_hb[i]:
                sl = slice(pos[i], pos[i] + n_hb[i])
                errors[sl] = (np.sort(times)[None, :] <= t_rel[sl, None]).sum(axis=1)
    s = sessions
    hb = pd.DataFrame({
        "kind": "heartbeat",
        "viewer_id": s["viewer_id"].to_numpy()[sid], "session_id": s["session_id"].to_numpy()[sid],
        "title_id": s["title_id"].to_numpy()[sid], "timestamp": np.round(start[sid] + t_rel, 3),
        "device": s["device"].to_numpy()[sid], "region": s["region"].to_numpy()[sid], "edge": s["edge"].to_numpy()[sid],
        "playhead_s": np.round(playhead, 3), "buffer_s": np.round(np.minimum(buffer, 600.0), 3),
        "bitrate_kbps": np.where(started, bitrate[sid, j], 0.0),
        "throughput_kbps": np.round(np.where(started, o.throughput_kbps[outcome[sid], j], 0.0), 1),
        "startup_s": np.where(started, np.round(startup[sid], 3), np.nan),
        "rebuffer_count": np.where(started, cum_stalls[sid, j], 0).astype(int),
        "rebuffer_s": np.round(hb_stall, 3),
        "bitrate_switches": np.where(started, cum_switch[sid, j], 0).astype(int),
        "errors": errors,
    })

    # Session summaries.
    end_idx = np.maximum((done <= end_rel[:, None]).sum(axis=1) - 1, 0)
    end_idx = np.minimum(end_idx, last)
    played = ~failed_start
    total_errors = np.array([int((err_times.get(i, np.empty(0)) <= end_rel[i]).sum()) for i in rows]) + failed.astype(int)
    total_stall = np.where(played, cum_stall[rows, end_idx], 0.0)
    avg_bitrate = np.where(played, np.cumsum(bitrate, axis=1)[rows, end_idx] / (end_idx + 1), 0.0)
    qoe = o.qoe[outcome, end_idx]
    se = pd.DataFrame({
        "kind": "session_end",
        "viewer_id": s["viewer_id"].to_numpy(), "session_id": s["session_id"].to_numpy(),
        "title_id": s["title_id"].to_numpy(), "timestamp": np.round(start + end_rel, 3),
        "device": s["device"].to_numpy(), "region": s["region"].to_numpy(), "edge": s["edge"].to_numpy(),
        "started_at": np.round(start, 3),
        "startup_s": np.where(played, np.round(startup, 3), np.nan),
        "play_s": np.round(np.where(played, np.maximum(end_rel - startup - total_stall, 0.0), 0.0), 3),
        "rebuffer_count": np.where(played, cum_stalls[rows, end_idx], 0).astype(int),
        "rebuffer_s": np.round(total_stall, 3),
        "bitrate_switches": np.where(played, cum_switch[rows, end_idx], 0).astype(int),
        "avg_bitrate_kbps": np.round(avg_bitrate, 1),
        "errors": total_errors,
        "playback_failed": failed,
        "failure_reason": np.where(failed, fail_reason, None),
        "chunk_qoe_mean": np.where(played & ~np.isnan(qoe), np.round(qoe, 4), np.nan),
    })
    meta = {
        "seed": seed, "days": days, "start_s": settings.population.start_epoch_s,
        "end_s": settings.population.start_epoch_s + days * 86400.0, "sessions": int(n),
        "events": int(len(hb) + len(se)), "sessions_per_day": settings.population.sessions_per_day,
        "window_hint_s": settings.detection.window_s,
        "population": {"regions": {r: list(e) for r, e in population.edges.items()},
                       "devices": list(population.devices), "titles": len(population.titles)},
    }
    return Simulation(hb, se, incidents, meta)


def _lines(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return []
    return frame.to_json(orient="records", lines=True, double_precision=6).splitlines()


def write_simulation(sim: Simulation, out: Path, labels: Path | None = None) -> Path:
    """Write events (``.jsonl`` or ``.parquet``) in time order and the ground truth beside them."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    hb = sim.heartbeats.drop(columns=["startup_s"]).assign(startup_s=sim.heartbeats["startup_s"])
    if out.suffix.lower() == ".parquet":
        frame = pd.concat([hb, sim.summaries], ignore_index=True).sort_values("timestamp", kind="stable")
        frame.to_parquet(out, index=False)
    else:
        lines = _lines(hb) + _lines(sim.summaries)
        ts = np.concatenate([hb["timestamp"].to_numpy(), sim.summaries["timestamp"].to_numpy()])
        order = np.argsort(ts, kind="stable")
        with out.open("w") as handle:
            handle.write("\n".join(lines[i] for i in order))
            handle.write("\n")
    labels = labels or default_labels_path(out)
    write_labels(labels, sim.incidents, sim.meta)
    return labels


def summary_line(sim: Simulation) -> str:
    kinds: dict[str, int] = {}
    for inc in sim.incidents:
        kinds[inc.kind] = kinds.get(inc.kind, 0) + 1
    return (f"{sim.meta['sessions']} sessions, {sim.events} events, {len(sim.incidents)} incidents"
            + (f" ({json.dumps(kinds)})" if kinds else ""))
